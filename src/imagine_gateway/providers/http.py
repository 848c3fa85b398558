"""Shared HTTP plumbing of the upstream providers: one aiohttp session per provider credential.

aiohttp rather than httpx on this path: polling thousands of jobs is the worker's hottest loop, and
on the project's 2-core VM an httpx request costs ~1,700 µs of client CPU against ~270 µs with
aiohttp (same server, 64 in flight; ``bench/upstream_client.py``, docs/benchmarks.md). Everything
else (our SDK, the SSRF-guarded reference fetcher) stays on httpx.

Transport failures become provider errors here, by whether the upstream may have acted:

    connect refused / connect or pool timeout   nothing was sent          ProviderUnavailable
    malformed URL                               nothing was sent          ProviderUnavailable
    read timeout / reset / disconnect / write   sent (maybe), answer lost submit: SubmitAmbiguous,
                                                                           else ProviderUnavailable
    429, 408, 5xx, 529                          refused for now            ProviderUnavailable (+Retry-After)
    401, 403, 400 naming the API key            our key is refused         ProviderMisconfigured (try another)
    other 4xx                                   the request is refused     ProviderRejected

(aiohttp does not tell a failed write from a failed read, so a dropped connection counts as
"maybe sent": for a submit that means reconcile, never a blind resend.)
"""

from __future__ import annotations

import asyncio
import base64
import email.utils
import hashlib
import json
import time
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from typing import Any, Literal

import aiohttp

from imagine_gateway.catalog.contract import ModelContract
from imagine_gateway.providers.base import (
    Job,
    ProviderError,
    ProviderMisconfigured,
    ProviderRejected,
    ProviderUnavailable,
    ReferenceInput,
    ResultAsset,
    SubmitAmbiguous,
    Submitted,
)
from imagine_gateway.providers.config import ModelMapping
from imagine_gateway.telemetry import metrics

Role = Literal["submit", "poll", "probe", "download"]
CONNECT_TIMEOUT_S = 5.0
# Shorter than common servers' idle timeouts (uvicorn: 5 s), so a reused connection is rarely one
# the server is closing, which would turn a submit into an ambiguous one for nothing.
KEEPALIVE_EXPIRY_S = 3.0
USER_AGENT = "imagine-gateway"
_RETRYABLE_STATUS = frozenset({408, 425, 429, 500, 502, 503, 504, 529})
_CHUNK_BYTES = 1 << 20
# Failures that happen before the upstream holds a whole request: it cannot have acted on it.
# (ConnectionTimeoutError covers both the wait for a pooled connection and the connect itself.)
_SAFE_TRANSPORT_ERRORS = (
    aiohttp.ClientConnectorError,
    aiohttp.ConnectionTimeoutError,
    aiohttp.InvalidURL,
)
_TRANSPORT_ERRORS = (aiohttp.ClientError, asyncio.TimeoutError)


@dataclass(frozen=True)
class UpstreamResponse:
    """An upstream's whole answer: status, headers (case-insensitive) and body bytes."""

    status_code: int
    reason_phrase: str
    headers: Mapping[str, str]
    content: bytes

    @property
    def is_success(self) -> bool:
        return 200 <= self.status_code < 300

    @property
    def text(self) -> str:
        return self.content.decode("utf-8", errors="replace")

    def json(self) -> Any:
        """The body as JSON; raises ``ValueError`` when it is not JSON."""
        return json.loads(self.content)


def credential_label(api_key: str) -> str:
    """A non-secret label of an upstream key: its SHA-256, shortened (the key cannot be read back
    from it, and the same key always shows the same label)."""
    return "sha256:" + hashlib.sha256(api_key.encode()).hexdigest()[:12]


class UpstreamHttp:
    """An HTTP client bound to one upstream and one key, with errors mapped to provider errors."""

    def __init__(
        self, *, name: str, base_url: str, api_key: str, timeout_s: float, max_concurrency: int
    ) -> None:
        self.name = name
        self.base_url = base_url.rstrip("/")
        self._auth = {"Authorization": f"Bearer {api_key}"}
        self.credential = credential_label(api_key)
        self._max_concurrency = max_concurrency
        # Per phase, as before: the pool wait plus connect, the connect itself, each read.
        self._timeout = aiohttp.ClientTimeout(
            total=None,
            connect=timeout_s,
            sock_connect=min(CONNECT_TIMEOUT_S, timeout_s),
            sock_read=timeout_s,
        )
        self._session: aiohttp.ClientSession | None = None
        self._closed = False

    def _client(self) -> aiohttp.ClientSession:
        # Made on first use: an aiohttp session belongs to the event loop that is running then.
        if self._closed:
            raise ProviderUnavailable(f"{self.name}: the client is closed.")
        if self._session is None:
            self._session = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(
                    # Requests beyond the limit wait for a connection (bounded by the connect timeout).
                    limit=self._max_concurrency,
                    limit_per_host=0,
                    keepalive_timeout=KEEPALIVE_EXPIRY_S,
                ),
                timeout=self._timeout,
                headers={"User-Agent": USER_AGENT},
                # Proxies and .netrc from the environment are not ours to follow implicitly.
                trust_env=False,
            )
        return self._session

    async def request(
        self,
        method: str,
        path: str,
        *,
        role: Role,
        json_body: Any = None,
        params: Mapping[str, str] | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> UpstreamResponse:
        """Send one request; transport failures raise provider errors, any status is returned."""
        sent_headers = {**self._auth, **(headers or {})}
        data = None
        if json_body is not None:
            data = json.dumps(json_body, ensure_ascii=False, separators=(",", ":"), allow_nan=False).encode()
            sent_headers["Content-Type"] = "application/json"
        started = time.perf_counter()
        status: int | None = None
        try:
            async with self._client().request(
                method,
                f"{self.base_url}{path}",
                data=data,
                params=params,
                headers=sent_headers,
                allow_redirects=False,
            ) as response:
                whole = await _whole(response)
                status = whole.status_code
                return whole
        except _TRANSPORT_ERRORS as exc:
            raise transport_error(self.name, exc, role=role) from exc
        finally:
            metrics.upstream_requests.labels(self.name, role, metrics.status_class(status)).inc()
            metrics.upstream_latency.labels(self.name, role).observe(time.perf_counter() - started)

    def fail_for_status(self, response: UpstreamResponse, *, role: Role) -> None:
        """Raise the provider error for a non-2xx answer."""
        if response.is_success:
            return
        raise status_error(self.name, response, role=role)

    async def stream(self, url: str) -> AsyncIterator[bytes]:
        """A result file's bytes. No key is sent: result URLs are pre-signed, often on another host.

        Redirects are not followed: a result URL that redirects could point us anywhere.
        """
        try:
            async with self._client().get(url, allow_redirects=False) as response:
                if response.status in (404, 410):
                    raise ProviderError(
                        f"{self.name}: the result URL answers {response.status} (expired or removed)."
                    )
                if not 200 <= response.status < 300:
                    self.fail_for_status(await _whole(response), role="download")
                async for chunk in response.content.iter_chunked(_CHUNK_BYTES):
                    yield chunk
        except _TRANSPORT_ERRORS as exc:
            raise transport_error(self.name, exc, role="download") from exc

    async def aclose(self) -> None:
        self._closed = True
        if self._session is not None:
            await self._session.close()


async def _whole(response: aiohttp.ClientResponse) -> UpstreamResponse:
    return UpstreamResponse(
        status_code=response.status,
        reason_phrase=response.reason or "",
        headers=response.headers,
        content=await response.read(),
    )


def transport_error(name: str, exc: BaseException, *, role: Role) -> ProviderError:
    """A transport failure as a provider error (see the module table)."""
    safe = isinstance(exc, _SAFE_TRANSPORT_ERRORS)
    timed_out = isinstance(exc, asyncio.TimeoutError)
    what = "no answer in time" if timed_out else "connection dropped"
    if role == "submit" and not safe:
        return SubmitAmbiguous(
            f"{name}: the request was sent but its answer was lost ({what}); "
            "the upstream may have accepted it."
        )
    return ProviderUnavailable(f"{name}: {type(exc).__name__} ({exc or 'no detail'})")


def status_error(name: str, response: UpstreamResponse, *, role: Role) -> ProviderError:
    """A non-2xx answer as a provider error (see the module table)."""
    status = response.status_code
    message = f"{name} answered {status}: {error_message(response)}"
    if status in _RETRYABLE_STATUS:
        return ProviderUnavailable(message, retry_after_s=retry_after_s(response))
    # xAI answers a wrong key with 400 "Incorrect API key provided" rather than 401.
    bad_key = status in (401, 403) or (status == 400 and "api key" in message.lower())
    if bad_key or (role == "submit" and status == 404):
        # Our key or our configuration is wrong for this upstream; another provider may do.
        return ProviderMisconfigured(message)
    return ProviderRejected(f"The upstream refused the request: {message}")


def error_message(response: UpstreamResponse) -> str:
    """The human message of an error body in any of the shapes upstreams use."""
    try:
        body = response.json()
    except (ValueError, UnicodeDecodeError):
        return response.text[:300] or response.reason_phrase
    if isinstance(body, dict):
        error = body.get("error")
        if isinstance(error, dict) and isinstance(error.get("message"), str):
            return str(error["message"])
        if isinstance(body.get("message"), str) and body["message"]:
            return str(body["message"])
        if isinstance(error, str):
            return error
    return json.dumps(body)[:300]


def retry_after_s(response: UpstreamResponse, *, now_s: float | None = None) -> float | None:
    """``Retry-After`` in seconds (delta-seconds or an HTTP date), or None."""
    value = response.headers.get("retry-after")
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - (time.time() if now_s is None else now_s))


def json_body(name: str, response: UpstreamResponse, *, role: Role) -> dict[str, Any]:
    """The JSON object of a 2xx answer; unreadable -> ambiguous on submit, unknown otherwise."""
    try:
        body = response.json()
    except (ValueError, UnicodeDecodeError):
        body = None
    if isinstance(body, dict):
        return body
    message = f"{name} answered {response.status_code} with a body that is not a JSON object"
    if role == "submit":
        raise SubmitAmbiguous(f"{message}; the upstream may have accepted the request.")
    raise ProviderUnavailable(message)


def data_url(reference: ReferenceInput) -> str:
    """A reference as a data URL: our own URLs may not be reachable from the upstream."""
    if reference.data is None:
        if reference.url is None:
            raise ProviderRejected("A reference file has neither bytes nor a URL.")
        return reference.url
    return f"data:{reference.mime_type};base64,{base64.b64encode(reference.data).decode('ascii')}"


class HttpProvider:
    """What every HTTP provider shares: its model table, its client, downloads and lifecycle."""

    # A GET that reaches the upstream, passes auth and names no job: answered 404 when healthy.
    probe_path = "/"
    probe_params: Mapping[str, str] | None = None

    def __init__(self, *, name: str, http: UpstreamHttp, models: Mapping[str, ModelMapping]) -> None:
        self.name = name
        self.http = http
        self.models = dict(models)
        # Which key serves this provider's tasks, as a label safe to store and show.
        self.credential: str | None = http.credential

    def mapping(self, model: ModelContract) -> ModelMapping:
        mapping = self.models.get(model.id)
        if mapping is None:
            raise ProviderRejected(f"{self.name} does not serve {model.id}.")
        return mapping

    def unsupported(self, model: ModelContract, params: dict[str, Any]) -> str | None:
        mapping = self.models.get(model.id)
        if mapping is None:
            served = ", ".join(sorted(self.models)) or "nothing"
            return f"does not serve {model.id} (serves {served})"
        return mapping.unsupported(params)

    async def cancel(self, upstream_id: str) -> None:
        """The upstreams we speak to have no cancel; the job runs out there and is not collected."""
        return None

    async def reconcile(self, job: Job) -> Submitted | None:
        """No client-id lookup on this upstream: an ambiguous submit cannot be resolved."""
        return None

    async def open_result(self, asset: ResultAsset, job: Job) -> AsyncIterator[bytes]:
        async for chunk in self.http.stream(asset.url):
            yield chunk

    async def probe(self) -> bool:
        """True when the upstream answers; raises ``ProviderMisconfigured`` when it refuses our key."""
        try:
            response = await self.http.request("GET", self.probe_path, role="probe", params=self.probe_params)
        except ProviderError:
            return False
        if response.status_code in (200, 202, 404):
            return True
        error = status_error(self.name, response, role="probe")
        if isinstance(error, ProviderMisconfigured):
            raise error
        return False

    async def aclose(self) -> None:
        await self.http.aclose()
