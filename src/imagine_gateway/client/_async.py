"""The asynchronous client: the twin of ``_sync``, sharing ``_base`` for everything but I/O."""

from __future__ import annotations

import asyncio
import builtins
import contextlib
import inspect
import os
import time
from collections.abc import AsyncIterator, Callable, Iterator, Mapping
from pathlib import Path
from types import TracebackType
from typing import IO, Any

import httpx

from imagine_gateway.client import _base
from imagine_gateway.client._base import NOT_GIVEN, Call, NotGiven
from imagine_gateway.client._sse import SSEDecoder
from imagine_gateway.client.errors import APIConnectionError, APIStatusError, WaitTimeoutError
from imagine_gateway.client.models import (
    Credits,
    File,
    Generation,
    Model,
    WebhookDelivery,
    WebhookEndpoint,
    WebhookEvent,
)


class AsyncClient:
    """The Imagine Gateway API for asyncio; the same surface as ``Client`` with ``await``.

    async with AsyncClient(api_key="igw_sk_...") as client:
        task = await client.generations.create("grok-imagine", "A lighthouse at dusk")
        done = await client.generations.wait(task.id)
        async for task in client.generations.list(status="succeeded"):
            ...
    """

    def __init__(
        self,
        *,
        base_url: str | None = None,
        api_key: str | None = None,
        timeout: float | httpx.Timeout | NotGiven = NOT_GIVEN,
        max_retries: int = _base.DEFAULT_MAX_RETRIES,
        default_headers: Mapping[str, str] | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self._config = _base.resolve_config(
            base_url=base_url,
            api_key=api_key,
            timeout=timeout,
            max_retries=max_retries,
            default_headers=default_headers,
        )
        self._http = httpx.AsyncClient(
            base_url=self._config.base_url,
            timeout=self._config.timeout,
            headers=dict(self._config.headers),
            transport=transport,
        )
        self._closed = False
        self.models = AsyncModels(self)
        self.generations = AsyncGenerations(self)
        self.files = AsyncFiles(self)
        self.credits = AsyncCreditsResource(self)
        self.webhooks = AsyncWebhooks(self)

    @property
    def base_url(self) -> str:
        return self._config.base_url

    @property
    def is_closed(self) -> bool:
        return self._closed

    async def close(self) -> None:
        """Release the connection pool; the client cannot be used afterwards."""
        self._closed = True
        await self._http.aclose()

    async def __aenter__(self) -> AsyncClient:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.close()

    async def _send(self, call: Call, *, stream: bool = False) -> httpx.Response:
        """Send ``call`` under the retry policy; a success response, or the matching exception."""
        if self._closed:
            raise RuntimeError("This client has been closed; create a new one.")
        attempt = 0
        while True:
            attempt += 1
            request: httpx.Request | None = None
            try:
                with _opened(call) as file:
                    request = self._http.build_request(**_base.request_kwargs(call, self._config, file))
                    response = await self._http.send(request, stream=stream)
            except httpx.TransportError as exc:
                delay = _base.retry_delay_s(call, attempt, self._config.max_retries, error=exc)
                if delay is None:
                    raise _base.connection_error(exc, request) from exc
                await asyncio.sleep(delay)
                continue
            if response.is_success:
                return response
            delay = _base.retry_delay_s(call, attempt, self._config.max_retries, response=response)
            if delay is None:
                await response.aread()
                await response.aclose()
                raise _base.error_from_response(response)
            await response.aclose()
            await asyncio.sleep(delay)

    async def _json(self, call: Call) -> Any:
        return (await self._send(call)).json()

    async def _paginate(self, path: str, params: Mapping[str, Any]) -> AsyncIterator[dict[str, Any]]:
        page: Mapping[str, Any] | None = params
        while page is not None:
            body = await self._json(_base.list_call(path, page))
            for item in body["data"]:
                yield item
            page = _base.next_params(body, page)


@contextlib.contextmanager
def _opened(call: Call) -> Iterator[IO[bytes] | None]:
    if call.upload is None:
        yield None
        return
    # httpx streams a sync file object in async mode too; uploads are bounded (tens of MB).
    with call.upload.path.open("rb") as file:
        yield file


class _AsyncResource:
    def __init__(self, client: AsyncClient) -> None:
        self._client = client


class AsyncModels(_AsyncResource):
    async def list(self) -> builtins.list[Model]:
        """Every model in the catalog (public: no key needed)."""
        body = await self._client._json(_base.list_models_call())
        return [Model.model_validate(m) for m in body["data"]]

    async def retrieve(self, model_id: str) -> Model:
        return Model.model_validate(await self._client._json(_base.retrieve_model_call(model_id)))


class AsyncGenerations(_AsyncResource):
    async def create(
        self,
        model: str,
        prompt: str,
        *,
        params: Mapping[str, Any] | None = None,
        idempotency_key: str | NotGiven | None = NOT_GIVEN,
        webhook_url: str | None = None,
        client_request_id: str | None = None,
    ) -> Generation:
        """Create a task (HTTP 202). Without ``idempotency_key`` one is generated, so retries of this
        call can never create two tasks; pass ``None`` to send none."""
        call = _base.create_generation_call(
            model=model,
            prompt=prompt,
            params=params,
            idempotency_key=idempotency_key,
            webhook_url=webhook_url,
            client_request_id=client_request_id,
        )
        return Generation.model_validate(await self._client._json(call))

    async def retrieve(self, generation_id: str) -> Generation:
        return Generation.model_validate(await self._client._json(_base.generation_call(generation_id)))

    async def list(
        self, *, status: str | None = None, model: str | None = None, page_size: int | None = None
    ) -> AsyncIterator[Generation]:
        """Newest first, across all pages (fetched as the iteration reaches them)."""
        params = {"status": status, "model": model, "limit": page_size}
        async for item in self._client._paginate("/api/v1/generations", params):
            yield Generation.model_validate(item)

    async def cancel(self, generation_id: str) -> Generation:
        """Cancel a queued or processing task; its credits are released."""
        call = _base.generation_call(generation_id, "cancel")
        return Generation.model_validate(await self._client._json(call))

    async def wait(
        self,
        generation_id: str,
        *,
        timeout_s: float | None = 600.0,
        on_progress: Callable[[Generation], Any] | None = None,
        use_events: bool = True,
    ) -> Generation:
        """Wait until the task ends and return it; see ``Generations.wait``. ``on_progress`` may be a
        plain function or a coroutine function."""
        deadline = None if timeout_s is None else time.monotonic() + timeout_s
        tracker = _base.ProgressTracker(on_progress)
        current = await self.retrieve(generation_id)
        await _notify(tracker, current)
        if current.is_terminal:
            return current
        if use_events:
            ended = await self._follow_events(generation_id, deadline, tracker)
            if ended is not None:
                return ended
        polls = 0
        while True:
            left = _base.remaining_s(deadline)
            if left is not None and left <= 0:
                assert tracker.last is not None
                raise WaitTimeoutError(
                    f"Generation {generation_id} is still {tracker.last.status} after {timeout_s} s.",
                    generation=tracker.last,
                )
            delay = _base.poll_delay_s(polls)
            await asyncio.sleep(delay if left is None else min(delay, left))
            polls += 1
            current = await self.retrieve(generation_id)
            await _notify(tracker, current)
            if current.is_terminal:
                return current

    async def _follow_events(
        self, generation_id: str, deadline: float | None, tracker: _base.ProgressTracker
    ) -> Generation | None:
        """The terminal task from the event stream; None to fall back to polling."""
        try:
            response = await self._client._send(
                _base.events_call(generation_id, _base.remaining_s(deadline)), stream=True
            )
        except (APIConnectionError, APIStatusError):
            return None
        decoder = SSEDecoder()
        try:
            if not _base.is_event_stream(response):
                return None
            async for line in response.aiter_lines():
                event = decoder.feed(line)
                if event is not None and event.event == "generation":
                    generation = Generation.model_validate_json(event.data)
                    await _notify(tracker, generation)
                    if generation.is_terminal:
                        return generation
                left = _base.remaining_s(deadline)
                if left is not None and left <= 0:
                    break
        except httpx.TransportError:
            pass  # a read timeout or a dropped stream: polling takes over (and checks the deadline)
        finally:
            await response.aclose()
        return None

    async def download(
        self, generation_id: str, path: str | os.PathLike[str] = ".", *, index: int = 0
    ) -> Path:
        """Save result ``index`` of a succeeded task to ``path`` (a file, or a directory to put it in)."""
        generation = await self.retrieve(generation_id)
        url, suffix = _base.download_source(generation, index)
        target = _base.download_target(path, generation, index, suffix)
        partial = _base.partial_path(target)
        call = Call("GET", url, replay_safe=True, authenticated=False)
        response = await self._client._send(call, stream=True)
        try:
            # Local disk writes are short; a thread per chunk would cost more than it saves.
            with partial.open("wb") as out:
                async for chunk in response.aiter_bytes():
                    out.write(chunk)
        except BaseException:
            partial.unlink(missing_ok=True)
            raise
        finally:
            await response.aclose()
        partial.replace(target)
        return target


async def _notify(tracker: _base.ProgressTracker, generation: Generation) -> None:
    outcome = tracker.see(generation)
    if inspect.isawaitable(outcome):
        await outcome


class AsyncFiles(_AsyncResource):
    async def upload(
        self,
        path: str | os.PathLike[str],
        *,
        kind: str | None = None,
        model: str | None = None,
        client_request_id: str | None = None,
    ) -> File:
        """Upload a reference file; ``kind`` is guessed from the file name when not given."""
        call = _base.upload_call(path, kind=kind, model=model, client_request_id=client_request_id)
        return File.model_validate(await self._client._json(call))

    async def retrieve(self, file_id: str) -> File:
        call = Call("GET", f"/api/v1/files/{file_id}", replay_safe=True)
        return File.model_validate(await self._client._json(call))


class AsyncCreditsResource(_AsyncResource):
    async def retrieve(self) -> Credits:
        call = Call("GET", "/api/v1/credits", replay_safe=True)
        return Credits.model_validate(await self._client._json(call))


class AsyncWebhooks(_AsyncResource):
    async def create(
        self, url: str, *, event_types: builtins.list[str] | None = None, name: str | None = None
    ) -> WebhookEndpoint:
        """Register an endpoint; the answer's ``signing_secret`` is shown only this once."""
        body = _base.webhook_create_body(url=url, name=name, event_types=event_types)
        call = Call("POST", "/api/v1/webhooks", json=body)
        return WebhookEndpoint.model_validate(await self._client._json(call))

    async def list(self) -> builtins.list[WebhookEndpoint]:
        body = await self._client._json(Call("GET", "/api/v1/webhooks", replay_safe=True))
        return [WebhookEndpoint.model_validate(e) for e in body["data"]]

    async def retrieve(self, endpoint_id: str) -> WebhookEndpoint:
        call = Call("GET", f"/api/v1/webhooks/{endpoint_id}", replay_safe=True)
        return WebhookEndpoint.model_validate(await self._client._json(call))

    async def update(
        self,
        endpoint_id: str,
        *,
        name: str | NotGiven = NOT_GIVEN,
        url: str | NotGiven = NOT_GIVEN,
        event_types: builtins.list[str] | NotGiven = NOT_GIVEN,
        status: str | NotGiven = NOT_GIVEN,
    ) -> WebhookEndpoint:
        """Change only the given fields; ``status`` is "active" or "disabled"."""
        body = _base.webhook_update_body(name=name, url=url, event_types=event_types, status=status)
        call = Call("PATCH", f"/api/v1/webhooks/{endpoint_id}", json=body, replay_safe=True)
        return WebhookEndpoint.model_validate(await self._client._json(call))

    async def delete(self, endpoint_id: str) -> WebhookEndpoint:
        call = Call("DELETE", f"/api/v1/webhooks/{endpoint_id}", replay_safe=True)
        return WebhookEndpoint.model_validate(await self._client._json(call))

    async def rotate_secret(self, endpoint_id: str) -> WebhookEndpoint:
        call = Call("POST", f"/api/v1/webhooks/{endpoint_id}/rotate-secret")
        return WebhookEndpoint.model_validate(await self._client._json(call))

    async def deliveries(
        self, endpoint_id: str, *, page_size: int | None = None
    ) -> AsyncIterator[WebhookDelivery]:
        """The endpoint's deliveries, newest first, across all pages."""
        path = f"/api/v1/webhooks/{endpoint_id}/deliveries"
        async for item in self._client._paginate(path, {"limit": page_size}):
            yield WebhookDelivery.model_validate(item)

    async def test(self, endpoint_id: str) -> WebhookDelivery:
        """Queue a signed ``webhook.test`` event to the endpoint now."""
        call = Call("POST", f"/api/v1/webhooks/{endpoint_id}/test")
        return WebhookDelivery.model_validate(await self._client._json(call))

    async def events(self, *, page_size: int | None = None) -> AsyncIterator[WebhookEvent]:
        """The account's webhook events, newest first, across all pages."""
        async for item in self._client._paginate("/api/v1/webhook-events", {"limit": page_size}):
            yield WebhookEvent.model_validate(item)
