"""The synchronous client. Request building, retry policy and parsing live in ``_base``."""

from __future__ import annotations

import builtins
import contextlib
import os
import time
from collections.abc import Callable, Iterator, Mapping
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


class Client:
    """The Imagine Gateway API, synchronously.

        with Client(api_key="igw_sk_...") as client:
            task = client.generations.create("grok-imagine", "A lighthouse at dusk")
            done = client.generations.wait(task.id)
            client.generations.download(done.id, ".")

    ``base_url`` and ``api_key`` default to ``IMAGINE_BASE_URL`` and ``IMAGINE_API_KEY``. Failed
    requests are retried ``max_retries`` times (429, connection errors, and 5xx where resending is
    safe), honouring ``Retry-After``. ``transport`` replaces the network (e.g. ``httpx.MockTransport``
    or ``httpx.WSGITransport``); a closed client refuses further requests.
    """

    def __init__(
        self,
        *,
        base_url: str | None = None,
        api_key: str | None = None,
        timeout: float | httpx.Timeout | NotGiven = NOT_GIVEN,
        max_retries: int = _base.DEFAULT_MAX_RETRIES,
        default_headers: Mapping[str, str] | None = None,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self._config = _base.resolve_config(
            base_url=base_url,
            api_key=api_key,
            timeout=timeout,
            max_retries=max_retries,
            default_headers=default_headers,
        )
        self._http = httpx.Client(
            base_url=self._config.base_url,
            timeout=self._config.timeout,
            headers=dict(self._config.headers),
            transport=transport,
        )
        self._closed = False
        self.models = Models(self)
        self.generations = Generations(self)
        self.files = Files(self)
        self.credits = CreditsResource(self)
        self.webhooks = Webhooks(self)

    @property
    def base_url(self) -> str:
        return self._config.base_url

    @property
    def is_closed(self) -> bool:
        return self._closed

    def close(self) -> None:
        """Release the connection pool; the client cannot be used afterwards."""
        self._closed = True
        self._http.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def _send(self, call: Call, *, stream: bool = False) -> httpx.Response:
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
                    response = self._http.send(request, stream=stream)
            except httpx.TransportError as exc:
                delay = _base.retry_delay_s(call, attempt, self._config.max_retries, error=exc)
                if delay is None:
                    raise _base.connection_error(exc, request) from exc
                time.sleep(delay)
                continue
            if response.is_success:
                return response
            delay = _base.retry_delay_s(call, attempt, self._config.max_retries, response=response)
            if delay is None:
                response.read()
                response.close()
                raise _base.error_from_response(response)
            response.close()
            time.sleep(delay)

    def _json(self, call: Call) -> Any:
        return self._send(call).json()

    def _paginate(self, path: str, params: Mapping[str, Any]) -> Iterator[dict[str, Any]]:
        page: Mapping[str, Any] | None = params
        while page is not None:
            body = self._json(_base.list_call(path, page))
            yield from body["data"]
            page = _base.next_params(body, page)


@contextlib.contextmanager
def _opened(call: Call) -> Iterator[IO[bytes] | None]:
    if call.upload is None:
        yield None
        return
    with call.upload.path.open("rb") as file:
        yield file


class _Resource:
    def __init__(self, client: Client) -> None:
        self._client = client


class Models(_Resource):
    def list(self) -> builtins.list[Model]:
        """Every model in the catalog (public: no key needed)."""
        body = self._client._json(_base.list_models_call())
        return [Model.model_validate(m) for m in body["data"]]

    def retrieve(self, model_id: str) -> Model:
        return Model.model_validate(self._client._json(_base.retrieve_model_call(model_id)))


class Generations(_Resource):
    def create(
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
        return Generation.model_validate(self._client._json(call))

    def retrieve(self, generation_id: str) -> Generation:
        return Generation.model_validate(self._client._json(_base.generation_call(generation_id)))

    def list(
        self, *, status: str | None = None, model: str | None = None, page_size: int | None = None
    ) -> Iterator[Generation]:
        """Newest first, across all pages (fetched as the iteration reaches them)."""
        params = {"status": status, "model": model, "limit": page_size}
        for item in self._client._paginate("/api/v1/generations", params):
            yield Generation.model_validate(item)

    def cancel(self, generation_id: str) -> Generation:
        """Cancel a queued or processing task; its credits are released."""
        return Generation.model_validate(self._client._json(_base.generation_call(generation_id, "cancel")))

    def wait(
        self,
        generation_id: str,
        *,
        timeout_s: float | None = 600.0,
        on_progress: Callable[[Generation], Any] | None = None,
        use_events: bool = True,
    ) -> Generation:
        """Block until the task ends and return it (succeeded, failed or canceled).

        Follows the server-sent event stream; polls with backoff if the stream is unavailable or
        drops. ``on_progress`` is called on every change of status or progress. Raises
        ``WaitTimeoutError`` after ``timeout_s`` (the task itself goes on).
        """
        deadline = None if timeout_s is None else time.monotonic() + timeout_s
        tracker = _base.ProgressTracker(on_progress)
        current = self.retrieve(generation_id)
        tracker.see(current)
        if current.is_terminal:
            return current
        if use_events:
            ended = self._follow_events(generation_id, deadline, tracker)
            if ended is not None:
                return ended
        polls = 0
        while True:
            left = _base.remaining_s(deadline)
            if left is not None and left <= 0:
                raise _timed_out(generation_id, timeout_s, tracker)
            delay = _base.poll_delay_s(polls)
            time.sleep(delay if left is None else min(delay, left))
            polls += 1
            current = self.retrieve(generation_id)
            tracker.see(current)
            if current.is_terminal:
                return current

    def _follow_events(
        self, generation_id: str, deadline: float | None, tracker: _base.ProgressTracker
    ) -> Generation | None:
        """The terminal task from the event stream; None to fall back to polling."""
        try:
            response = self._client._send(
                _base.events_call(generation_id, _base.remaining_s(deadline)), stream=True
            )
        except (APIConnectionError, APIStatusError):
            return None
        decoder = SSEDecoder()
        try:
            if not _base.is_event_stream(response):
                return None
            for line in response.iter_lines():
                event = decoder.feed(line)
                if event is not None and event.event == "generation":
                    generation = Generation.model_validate_json(event.data)
                    tracker.see(generation)
                    if generation.is_terminal:
                        return generation
                left = _base.remaining_s(deadline)
                if left is not None and left <= 0:
                    break
        except httpx.TransportError:
            pass  # a read timeout or a dropped stream: polling takes over (and checks the deadline)
        finally:
            response.close()
        return None

    def download(self, generation_id: str, path: str | os.PathLike[str] = ".", *, index: int = 0) -> Path:
        """Save result ``index`` of a succeeded task to ``path`` (a file, or a directory to put it in)."""
        generation = self.retrieve(generation_id)
        url, suffix = _base.download_source(generation, index)
        target = _base.download_target(path, generation, index, suffix)
        partial = _base.partial_path(target)
        response = self._client._send(Call("GET", url, replay_safe=True, authenticated=False), stream=True)
        try:
            with partial.open("wb") as out:
                for chunk in response.iter_bytes():
                    out.write(chunk)
        except BaseException:
            partial.unlink(missing_ok=True)
            raise
        finally:
            response.close()
        partial.replace(target)
        return target


def _timed_out(
    generation_id: str, timeout_s: float | None, tracker: _base.ProgressTracker
) -> WaitTimeoutError:
    assert tracker.last is not None
    return WaitTimeoutError(
        f"Generation {generation_id} is still {tracker.last.status} after {timeout_s} s.",
        generation=tracker.last,
    )


class Files(_Resource):
    def upload(
        self,
        path: str | os.PathLike[str],
        *,
        kind: str | None = None,
        model: str | None = None,
        client_request_id: str | None = None,
    ) -> File:
        """Upload a reference file; ``kind`` is guessed from the file name when not given."""
        call = _base.upload_call(path, kind=kind, model=model, client_request_id=client_request_id)
        return File.model_validate(self._client._json(call))

    def retrieve(self, file_id: str) -> File:
        return File.model_validate(
            self._client._json(Call("GET", f"/api/v1/files/{file_id}", replay_safe=True))
        )


class CreditsResource(_Resource):
    def retrieve(self) -> Credits:
        return Credits.model_validate(self._client._json(Call("GET", "/api/v1/credits", replay_safe=True)))


class Webhooks(_Resource):
    def create(
        self, url: str, *, event_types: builtins.list[str] | None = None, name: str | None = None
    ) -> WebhookEndpoint:
        """Register an endpoint; the answer's ``signing_secret`` is shown only this once."""
        body = _base.webhook_create_body(url=url, name=name, event_types=event_types)
        return WebhookEndpoint.model_validate(self._client._json(Call("POST", "/api/v1/webhooks", json=body)))

    def list(self) -> builtins.list[WebhookEndpoint]:
        body = self._client._json(Call("GET", "/api/v1/webhooks", replay_safe=True))
        return [WebhookEndpoint.model_validate(e) for e in body["data"]]

    def retrieve(self, endpoint_id: str) -> WebhookEndpoint:
        call = Call("GET", f"/api/v1/webhooks/{endpoint_id}", replay_safe=True)
        return WebhookEndpoint.model_validate(self._client._json(call))

    def update(
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
        return WebhookEndpoint.model_validate(self._client._json(call))

    def delete(self, endpoint_id: str) -> WebhookEndpoint:
        call = Call("DELETE", f"/api/v1/webhooks/{endpoint_id}", replay_safe=True)
        return WebhookEndpoint.model_validate(self._client._json(call))

    def rotate_secret(self, endpoint_id: str) -> WebhookEndpoint:
        call = Call("POST", f"/api/v1/webhooks/{endpoint_id}/rotate-secret")
        return WebhookEndpoint.model_validate(self._client._json(call))

    def deliveries(self, endpoint_id: str, *, page_size: int | None = None) -> Iterator[WebhookDelivery]:
        """The endpoint's deliveries, newest first, across all pages."""
        path = f"/api/v1/webhooks/{endpoint_id}/deliveries"
        for item in self._client._paginate(path, {"limit": page_size}):
            yield WebhookDelivery.model_validate(item)

    def test(self, endpoint_id: str) -> WebhookDelivery:
        """Queue a signed ``webhook.test`` event to the endpoint now."""
        call = Call("POST", f"/api/v1/webhooks/{endpoint_id}/test")
        return WebhookDelivery.model_validate(self._client._json(call))

    def events(self, *, page_size: int | None = None) -> Iterator[WebhookEvent]:
        """The account's webhook events, newest first, across all pages."""
        for item in self._client._paginate("/api/v1/webhook-events", {"limit": page_size}):
            yield WebhookEvent.model_validate(item)
