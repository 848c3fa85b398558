"""What the sync and async clients share: configuration, the description of every API call, error
parsing, pagination and the wait/download helpers (the retry policy is in ``_retry``). The clients
only do I/O.
"""

from __future__ import annotations

import inspect
import mimetypes
import os
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, Final, Literal

import httpx

from imagine_gateway._version import __version__
from imagine_gateway.client.errors import (
    APIConnectionError,
    APIStatusError,
    APITimeoutError,
    GenerationFailedError,
    GenerationNotReadyError,
    WaitTimeoutError,
    error_class,
)
from imagine_gateway.client.models import Generation


class NotGiven:
    """The type of ``NOT_GIVEN``: "use the default", as opposed to ``None``, which means "none"."""

    _instance: NotGiven | None = None

    def __new__(cls) -> NotGiven:
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __bool__(self) -> Literal[False]:
        return False

    def __repr__(self) -> str:
        return "NOT_GIVEN"


NOT_GIVEN: Final[NotGiven] = NotGiven()

DEFAULT_BASE_URL = "http://127.0.0.1:8000"
DEFAULT_TIMEOUT = httpx.Timeout(60.0, connect=10.0)
DEFAULT_MAX_RETRIES = 2
EVENT_STREAM_READ_TIMEOUT_S = 30.0  # the gateway sends a keep-alive every 15 s
USER_AGENT = f"imagine-gateway-python/{__version__}"


@dataclass(frozen=True)
class Config:
    base_url: str
    api_key: str | None
    timeout: httpx.Timeout
    max_retries: int
    headers: Mapping[str, str]


def resolve_config(
    *,
    base_url: str | None,
    api_key: str | None,
    timeout: float | httpx.Timeout | NotGiven,
    max_retries: int,
    default_headers: Mapping[str, str] | None,
) -> Config:
    """Arguments win, then ``IMAGINE_BASE_URL`` / ``IMAGINE_API_KEY``, then the defaults."""
    if max_retries < 0:
        raise ValueError("max_retries must be 0 or more")
    resolved_timeout = (
        DEFAULT_TIMEOUT
        if isinstance(timeout, NotGiven)
        else timeout
        if isinstance(timeout, httpx.Timeout)
        else httpx.Timeout(timeout)
    )
    return Config(
        base_url=(base_url or os.environ.get("IMAGINE_BASE_URL") or DEFAULT_BASE_URL).rstrip("/"),
        api_key=api_key or os.environ.get("IMAGINE_API_KEY") or None,
        timeout=resolved_timeout,
        max_retries=max_retries,
        headers={"User-Agent": USER_AGENT, "Accept": "application/json", **(default_headers or {})},
    )


@dataclass(frozen=True)
class Upload:
    """A file sent as multipart ``file`` beside text ``fields``; reopened for every attempt."""

    path: Path
    mime_type: str
    fields: Mapping[str, str]


@dataclass(frozen=True)
class Call:
    """One logical API call: everything needed to send it, as often as the retry policy allows.

    ``replay_safe`` means resending is harmless even if the server acted on an earlier attempt
    (reads, and creates that carry an Idempotency-Key).
    """

    method: str
    path: str  # relative to the base URL, or absolute (media downloads)
    params: Mapping[str, Any] | None = None
    json: Any = None
    headers: Mapping[str, str] = field(default_factory=dict)
    upload: Upload | None = None
    replay_safe: bool = False
    authenticated: bool = True
    timeout: httpx.Timeout | None = None


def request_kwargs(call: Call, config: Config, file: IO[bytes] | None = None) -> dict[str, Any]:
    """Arguments for ``httpx.Client.build_request`` (and its async twin)."""
    headers = dict(call.headers)
    if call.authenticated and config.api_key:
        headers["Authorization"] = f"Bearer {config.api_key}"
    kwargs: dict[str, Any] = {"method": call.method, "url": call.path, "headers": headers}
    if call.params:
        kwargs["params"] = {k: v for k, v in call.params.items() if v is not None}
    if call.json is not None:
        kwargs["json"] = call.json
    if call.upload is not None:
        assert file is not None
        # Text fields first: the gateway applies kind/model limits while the file streams in.
        kwargs["data"] = dict(call.upload.fields)
        kwargs["files"] = {"file": (call.upload.path.name, file, call.upload.mime_type)}
    if call.timeout is not None:
        kwargs["timeout"] = call.timeout
    return kwargs


def connection_error(exc: httpx.TransportError, request: httpx.Request | None) -> APIConnectionError:
    if isinstance(exc, httpx.TimeoutException):
        return APITimeoutError(f"Request timed out: {exc}", request=request)
    return APIConnectionError(f"Connection error: {exc}", request=request)


def error_from_response(response: httpx.Response) -> APIStatusError:
    """The exception for an error answer, from the gateway's envelope when there is one."""
    code, message, request_id, details = f"http_{response.status_code}", response.reason_phrase, None, None
    try:
        body = response.json()
    except ValueError:
        body = None
    if isinstance(body, dict) and isinstance(body.get("error"), dict):
        error = body["error"]
        code = str(error.get("code") or code)
        message = str(error.get("message") or message)
        request_id = error.get("requestId")
        details = error.get("details") if isinstance(error.get("details"), list) else None
    request_id = request_id or response.headers.get("x-request-id")
    return error_class(response.status_code)(
        message or f"HTTP {response.status_code}",
        code=code,
        status_code=response.status_code,
        request_id=request_id,
        details=details,
        response=response,
    )


# Calls


def new_idempotency_key() -> str:
    return f"sdk-{uuid.uuid4().hex}"


def list_models_call() -> Call:
    return Call("GET", "/api/v1/models", replay_safe=True, authenticated=False)


def retrieve_model_call(model_id: str) -> Call:
    return Call("GET", f"/api/v1/models/{model_id}", replay_safe=True, authenticated=False)


def create_generation_call(
    *,
    model: str,
    prompt: str,
    params: Mapping[str, Any] | None,
    idempotency_key: str | NotGiven | None,
    webhook_url: str | None,
    client_request_id: str | None,
) -> Call:
    """The create call; the key is fixed here, once, so every retry of it carries the same one."""
    body: dict[str, Any] = {"model": model, "prompt": prompt}
    if params:
        body["params"] = dict(params)
    if webhook_url is not None:
        body["webhook_url"] = webhook_url
    if client_request_id is not None:
        body["client_request_id"] = client_request_id
    key = new_idempotency_key() if isinstance(idempotency_key, NotGiven) else idempotency_key
    headers = {"Idempotency-Key": key} if key is not None else {}
    return Call("POST", "/api/v1/generations", json=body, headers=headers, replay_safe=key is not None)


def generation_call(generation_id: str, action: str = "") -> Call:
    path = f"/api/v1/generations/{generation_id}" + (f"/{action}" if action else "")
    if action == "cancel":
        return Call("POST", path)
    return Call("GET", path, replay_safe=True)


def list_call(path: str, params: Mapping[str, Any]) -> Call:
    return Call("GET", path, params=params, replay_safe=True)


def next_params(body: Mapping[str, Any], params: Mapping[str, Any]) -> dict[str, Any] | None:
    """The parameters of the next page, or None after the last one."""
    cursor = body.get("next_cursor")
    if not body.get("has_more") or not cursor:
        return None
    return {**params, "cursor": cursor}


def events_call(generation_id: str, remaining_s: float | None) -> Call:
    read_s = (
        EVENT_STREAM_READ_TIMEOUT_S if remaining_s is None else min(EVENT_STREAM_READ_TIMEOUT_S, remaining_s)
    )
    return Call(
        "GET",
        f"/api/v1/generations/{generation_id}/events",
        headers={"Accept": "text/event-stream"},
        replay_safe=True,
        timeout=httpx.Timeout(DEFAULT_TIMEOUT.connect, read=max(read_s, 0.05)),
    )


def upload_call(
    path: str | os.PathLike[str], *, kind: str | None, model: str | None, client_request_id: str | None
) -> Call:
    file_path = Path(path)
    if not file_path.is_file():
        raise FileNotFoundError(f"No such file: {file_path}")
    mime = mimetypes.guess_type(file_path.name)[0] or "application/octet-stream"
    if kind is None:
        kind = mime.split("/")[0]
        if kind not in ("image", "video", "audio"):
            raise ValueError(
                f"Cannot tell the kind of {file_path.name}; pass kind='image', 'video' or 'audio'."
            )
    fields = {"kind": kind}
    if model is not None:
        fields["model"] = model
    if client_request_id is not None:
        fields["client_request_id"] = client_request_id
    # A repeated upload only leaves a spare file that expires, so it is not marked replay-safe, but
    # 429s and refused connections are still retried.
    return Call("POST", "/api/v1/files", upload=Upload(file_path, mime, fields))


def webhook_create_body(*, url: str, name: str | None, event_types: list[str] | None) -> dict[str, Any]:
    body: dict[str, Any] = {"url": url}
    if name is not None:
        body["name"] = name
    if event_types is not None:
        body["event_types"] = event_types
    return body


def webhook_update_body(
    *,
    name: str | NotGiven,
    url: str | NotGiven,
    event_types: list[str] | NotGiven,
    status: str | NotGiven,
) -> dict[str, Any]:
    given = {"name": name, "url": url, "event_types": event_types, "status": status}
    return {k: v for k, v in given.items() if not isinstance(v, NotGiven)}


# Waiting


def poll_delay_s(polls: int) -> float:
    """Polling backoff: 1 s, rising by half each time, to at most 10 s."""
    return float(min(1.0 * 1.5**polls, 10.0))


def remaining_s(deadline: float | None) -> float | None:
    return None if deadline is None else deadline - time.monotonic()


def timed_out(generation_id: str, timeout_s: float | None, last: Generation) -> WaitTimeoutError:
    return WaitTimeoutError(
        f"Generation {generation_id} is still {last.status} after {timeout_s} s.", generation=last
    )


def ended(generation: Generation, raise_on_failure: bool) -> Generation:
    """The ended task, or ``GenerationFailedError`` carrying it when it failed or was canceled."""
    if raise_on_failure and generation.status != "succeeded":
        raise GenerationFailedError(generation)
    return generation


def generation_id_of(generation: Generation | str) -> str:
    return generation if isinstance(generation, str) else generation.id


class ProgressTracker:
    """Calls ``on_progress`` once per change of (status, progress) and remembers the last state."""

    def __init__(self, on_progress: Callable[[Generation], Any] | None) -> None:
        self.on_progress = on_progress
        self.last: Generation | None = None

    def _changed(self, generation: Generation) -> bool:
        changed = self.last is None or (self.last.status, self.last.progress) != (
            generation.status,
            generation.progress,
        )
        self.last = generation
        return changed and self.on_progress is not None

    def notify(self, generation: Generation) -> None:
        """Record ``generation``; call ``on_progress`` if it changed."""
        if self._changed(generation):
            assert self.on_progress is not None
            self.on_progress(generation)

    async def anotify(self, generation: Generation) -> None:
        """``notify`` for the async client: a coroutine function ``on_progress`` is awaited."""
        if self._changed(generation):
            assert self.on_progress is not None
            outcome = self.on_progress(generation)
            if inspect.isawaitable(outcome):
                await outcome


# Downloads

_EXTENSIONS = {
    "video/mp4": ".mp4",
    "video/webm": ".webm",
    "video/quicktime": ".mov",
    "image/png": ".png",
    "image/jpeg": ".jpg",
    "image/webp": ".webp",
    "image/gif": ".gif",
}


def download_source(generation: Generation, index: int) -> tuple[str, str]:
    """(URL, file extension) of result ``index``; GenerationNotReadyError when there is none."""
    result = generation.result
    if generation.status != "succeeded" or result is None:
        raise GenerationNotReadyError(
            f"Generation {generation.id} is {generation.status}; only a succeeded task has a result.",
            generation=generation,
        )
    if result.expired:
        raise GenerationNotReadyError(f"The result of {generation.id} has expired.", generation=generation)
    if result.media and index < len(result.media):
        media = result.media[index]
        return media.url, _EXTENSIONS.get(media.mime_type, Path(httpx.URL(media.url).path).suffix)
    if index < len(result.urls):
        url = result.urls[index]
        return url, Path(httpx.URL(url).path).suffix
    raise GenerationNotReadyError(
        f"Generation {generation.id} has no result number {index}.", generation=generation
    )


def download_target(path: str | os.PathLike[str], generation: Generation, index: int, suffix: str) -> Path:
    """``path`` itself, or a file named after the task inside it when it is a directory."""
    target = Path(path)
    if target.is_dir():
        name = generation.id + (f"-{index}" if index else "") + suffix
        target = target / name
    return target


def partial_path(target: Path) -> Path:
    """Where a download is written before it is renamed into place (never a half file at ``target``)."""
    return target.with_name(f".{target.name}.part")
