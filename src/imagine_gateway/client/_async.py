"""The asynchronous client. Request building, parsing and the retry policy live in ``_base`` and
``_retry``; the synchronous client (``_sync.py``) is generated from this file by ``scripts/unasync.py``,
so write code here that reads right with ``async``/``await`` taken out.
"""

from __future__ import annotations

import asyncio
import builtins
import contextlib
import os
import time
from collections.abc import AsyncIterator, Callable, Iterator, Mapping
from pathlib import Path
from types import TracebackType
from typing import IO, Any, TypeVar

import httpx
from httpx_sse import EventSource, SSEError
from pydantic import BaseModel

from imagine_gateway.client import _base, _retry
from imagine_gateway.client._base import NOT_GIVEN, Call, NotGiven
from imagine_gateway.client.errors import APIConnectionError, APIStatusError
from imagine_gateway.client.models import (
    Credits,
    File,
    Generation,
    Model,
    WebhookDelivery,
    WebhookEndpoint,
    WebhookEvent,
)

M = TypeVar("M", bound=BaseModel)


class AsyncClient:
    """The Imagine Gateway API.

        async with AsyncClient(api_key="igw_sk_...") as client:
            done = await client.generations.run("grok-imagine", "A lighthouse at dusk")
            await client.generations.download(done, ".")
            async for task in client.generations.list(status="succeeded"):
                ...

    ``base_url`` and ``api_key`` default to ``IMAGINE_BASE_URL`` and ``IMAGINE_API_KEY``. Failed
    requests are retried ``max_retries`` times (429, connection errors, and 5xx where resending is
    safe), honouring ``Retry-After``. ``transport`` replaces the network (e.g. ``httpx.MockTransport``);
    a closed client refuses further requests.
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
                delay = _retry.retry_delay_s(call.replay_safe, attempt, self._config.max_retries, error=exc)
                if delay is None:
                    raise _base.connection_error(exc, request) from exc
                await asyncio.sleep(delay)
                continue
            if response.is_success:
                return response
            delay = _retry.retry_delay_s(
                call.replay_safe, attempt, self._config.max_retries, response=response
            )
            if delay is None:
                await response.aread()
                await response.aclose()
                raise _base.error_from_response(response)
            await response.aclose()
            await asyncio.sleep(delay)

    async def _json(self, call: Call) -> Any:
        response = await self._send(call)
        return response.json()

    async def _paginate(self, path: str, params: Mapping[str, Any], model: type[M]) -> AsyncIterator[M]:
        page: Mapping[str, Any] | None = params
        while page is not None:
            body = await self._json(_base.list_call(path, page))
            for item in body["data"]:
                yield model.model_validate(item)
            page = _base.next_params(body, page)


@contextlib.contextmanager
def _opened(call: Call) -> Iterator[IO[bytes] | None]:
    if call.upload is None:
        yield None
        return
    # A plain file object serves both clients (httpx reads it in either mode); uploads are bounded
    # (tens of MB), so blocking reads of local disk are short.
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

    async def run(
        self,
        model: str,
        prompt: str,
        *,
        params: Mapping[str, Any] | None = None,
        idempotency_key: str | NotGiven | None = NOT_GIVEN,
        webhook_url: str | None = None,
        client_request_id: str | None = None,
        timeout_s: float | None = 600.0,
        on_progress: Callable[[Generation], Any] | None = None,
        use_events: bool = True,
    ) -> Generation:
        """Create a task, wait for it to end and return it succeeded.

            done = await client.generations.run("grok-imagine", "A lighthouse at dusk")

        Raises ``GenerationFailedError`` (with the ended ``generation``) when it fails or is canceled,
        and ``WaitTimeoutError`` after ``timeout_s`` (the task itself goes on). The other arguments are
        those of ``create`` and ``wait``.
        """
        created = await self.create(
            model,
            prompt,
            params=params,
            idempotency_key=idempotency_key,
            webhook_url=webhook_url,
            client_request_id=client_request_id,
        )
        return await self.wait(created, timeout_s=timeout_s, on_progress=on_progress, use_events=use_events)

    async def retrieve(self, generation_id: str) -> Generation:
        return Generation.model_validate(await self._client._json(_base.generation_call(generation_id)))

    def list(
        self, *, status: str | None = None, model: str | None = None, page_size: int | None = None
    ) -> AsyncIterator[Generation]:
        """Newest first, across all pages (fetched as the iteration reaches them)."""
        params = {"status": status, "model": model, "limit": page_size}
        return self._client._paginate("/api/v1/generations", params, Generation)

    async def cancel(self, generation_id: str) -> Generation:
        """Cancel a queued or processing task; its credits are released."""
        call = _base.generation_call(generation_id, "cancel")
        return Generation.model_validate(await self._client._json(call))

    async def wait(
        self,
        generation: Generation | str,
        *,
        timeout_s: float | None = 600.0,
        on_progress: Callable[[Generation], Any] | None = None,
        use_events: bool = True,
        raise_on_failure: bool = True,
    ) -> Generation:
        """Wait until the task (a ``Generation`` or its id) ends and return it.

        Follows the server-sent event stream; polls with backoff if the stream is unavailable or
        drops. ``on_progress`` is called on every change of status or progress (the async client
        awaits a coroutine function). Raises ``GenerationFailedError`` when the task fails or is
        canceled, unless ``raise_on_failure=False`` (then the ended task is returned whatever its
        status), and ``WaitTimeoutError`` after ``timeout_s`` (the task itself goes on).
        """
        generation_id = _base.generation_id_of(generation)
        deadline = None if timeout_s is None else time.monotonic() + timeout_s
        tracker = _base.ProgressTracker(on_progress)
        current = await self.retrieve(generation_id)
        await tracker.anotify(current)
        if current.is_terminal:
            return _base.ended(current, raise_on_failure)
        if use_events:
            streamed = await self._follow_events(generation_id, deadline, tracker)
            if streamed is not None:
                return _base.ended(streamed, raise_on_failure)
        polls = 0
        while True:
            left = _base.remaining_s(deadline)
            if left is not None and left <= 0:
                assert tracker.last is not None
                raise _base.timed_out(generation_id, timeout_s, tracker.last)
            delay = _base.poll_delay_s(polls)
            await asyncio.sleep(delay if left is None else min(delay, left))
            polls += 1
            current = await self.retrieve(generation_id)
            await tracker.anotify(current)
            if current.is_terminal:
                return _base.ended(current, raise_on_failure)

    async def _follow_events(
        self, generation_id: str, deadline: float | None, tracker: _base.ProgressTracker
    ) -> Generation | None:
        """The ended task from the event stream; None to fall back to polling."""
        try:
            response = await self._client._send(
                _base.events_call(generation_id, _base.remaining_s(deadline)), stream=True
            )
        except (APIConnectionError, APIStatusError):
            return None
        # Keep-alive comments never reach the loop below, so the deadline is checked as each chunk
        # arrives, by reading the stream through a response that ends there.
        bounded = httpx.Response(
            response.status_code, headers=response.headers, content=_until(deadline, response)
        )
        try:
            async for event in EventSource(bounded).aiter_sse():
                if event.event == "generation":
                    generation = Generation.model_validate_json(event.data)
                    await tracker.anotify(generation)
                    if generation.is_terminal:
                        return generation
        except (httpx.TransportError, SSEError):
            # A read timeout, a dropped stream or an answer that is not an event stream: polling
            # takes over (and checks the deadline).
            pass
        finally:
            await response.aclose()
        return None

    async def download(
        self, generation: Generation | str, path: str | os.PathLike[str] = ".", *, index: int = 0
    ) -> Path:
        """Save result ``index`` of a succeeded task (a ``Generation`` or its id) to ``path`` (a file,
        or a directory to put it in). The task is read again, so its media URLs are fresh."""
        current = await self.retrieve(_base.generation_id_of(generation))
        url, suffix = _base.download_source(current, index)
        target = _base.download_target(path, current, index, suffix)
        partial = _base.partial_path(target)
        call = Call("GET", url, replay_safe=True, authenticated=False)
        response = await self._client._send(call, stream=True)
        try:
            # Not handed to a thread: local disk writes are short, and a thread per chunk would cost
            # more than it saves.
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


async def _until(deadline: float | None, response: httpx.Response) -> AsyncIterator[bytes]:
    """The response's bytes as they arrive, ending with the first chunk read past ``deadline``."""
    async for chunk in response.aiter_raw():
        yield chunk
        left = _base.remaining_s(deadline)
        if left is not None and left <= 0:
            return


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

    def deliveries(self, endpoint_id: str, *, page_size: int | None = None) -> AsyncIterator[WebhookDelivery]:
        """The endpoint's deliveries, newest first, across all pages."""
        path = f"/api/v1/webhooks/{endpoint_id}/deliveries"
        return self._client._paginate(path, {"limit": page_size}, WebhookDelivery)

    async def test(self, endpoint_id: str) -> WebhookDelivery:
        """Queue a signed ``webhook.test`` event to the endpoint now."""
        call = Call("POST", f"/api/v1/webhooks/{endpoint_id}/test")
        return WebhookDelivery.model_validate(await self._client._json(call))

    def events(self, *, page_size: int | None = None) -> AsyncIterator[WebhookEvent]:
        """The account's webhook events, newest first, across all pages."""
        return self._client._paginate("/api/v1/webhook-events", {"limit": page_size}, WebhookEvent)
