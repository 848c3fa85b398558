"""The asynchronous client and its smaller resources (``client.generations`` is in
``_async_generations``).

Request building, parsing and the retry policy live in ``_base`` and ``_retry``. The synchronous
client is generated from this file by ``scripts/unasync.py``; write code here that reads right with
``async``/``await`` taken out.
"""

from __future__ import annotations

import asyncio
import builtins
import contextlib
import os
from collections.abc import AsyncIterator, Iterator, Mapping
from types import TracebackType
from typing import IO, Any, TypeVar

import httpx
from pydantic import BaseModel

from imagine_gateway.client import _async_generations, _base, _retry
from imagine_gateway.client._base import NOT_GIVEN, Call, NotGiven
from imagine_gateway.client.models import (
    Credits,
    File,
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
        self.generations = _async_generations.AsyncGenerations(self)
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
