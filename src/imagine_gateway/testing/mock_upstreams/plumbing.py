"""What every mock shape shares: the app builder, request admission (stats, faults, auth) and media.

A shape is its routes plus a ``Shape``: how it renders an error and which auth error it answers.
Handlers start with ``await admit(request, role)``, which counts the request, records its body,
injects the configured fault and checks the key; errors are raised as ``MockError`` and rendered in
the shape's own envelope.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
import struct
import uuid
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NoReturn

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import FileResponse, Response, StreamingResponse
from starlette.routing import BaseRoute, Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from imagine_gateway.testing.mock_upstreams.config import MockConfig
from imagine_gateway.testing.mock_upstreams.control import control_routes
from imagine_gateway.testing.mock_upstreams.media import parse_media_name
from imagine_gateway.testing.mock_upstreams.state import MockUpstream, ReceivedRequest, Role

_TRANSPORT_KEY = "imagine.mock.transport"
_REQUEST_ID_KEY = "imagine.mock.request_id"
# What a proxy dying mid-write leaves behind: valid start, no end.
GARBAGE_JSON = b'{"status": "pend'

Headers = list[tuple[bytes, bytes]]


@dataclass
class MockError(Exception):
    """An error answer; the app's shape renders it (``code`` None = the shape's code for ``status``)."""

    status: int
    message: str
    code: str | None = None
    headers: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        super().__init__(self.message)


@dataclass
class _Respond(Exception):
    """Answer with this exact response (garbage bodies, responses dropped after a reset)."""

    response: Response


@dataclass(frozen=True)
class Shape:
    """A wire shape's error envelope and its answer to a missing (None) or wrong key."""

    render_error: Callable[[MockError, str], Response]
    auth_error: Callable[[str | None], MockError]
    response_headers: Callable[[MockUpstream], Headers] | None = None
    new_request_id: Callable[[], str] = lambda: str(uuid.uuid4())


def build_app(kind: str, config: MockConfig | None, shape: Shape, routes: Sequence[BaseRoute]) -> Starlette:
    """A Starlette app serving ``routes`` and ``/media/{name}``, with ``app.state.mock``."""
    mock = MockUpstream(kind, config or MockConfig())

    async def on_mock_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, MockError)
        return shape.render_error(exc, request_id(request))

    async def on_respond(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, _Respond)
        return exc.response

    async def on_http_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, HTTPException)
        message = "No such endpoint." if exc.status_code == 404 else str(exc.detail)
        return shape.render_error(MockError(exc.status_code, message), request_id(request))

    app = Starlette(
        routes=[*routes, Route("/media/{name}", _serve_media, methods=["GET"]), *control_routes()],
        middleware=[Middleware(_Edge, mock=mock, shape=shape)],
        exception_handlers={MockError: on_mock_error, _Respond: on_respond, HTTPException: on_http_error},
    )
    app.state.mock = mock
    app.state.shape = shape
    return app


def mock_of(request: Request) -> MockUpstream:
    mock: MockUpstream = request.app.state.mock
    return mock


def request_id(request: Request) -> str:
    return str(request.scope.get(_REQUEST_ID_KEY, ""))


def base_url(request: Request) -> str:
    """Where result URLs point: ``public_base_url`` or the address the client used."""
    configured = mock_of(request).config.public_base_url
    return (configured or str(request.base_url)).rstrip("/")


def endpoint_of(request: Request) -> str:
    route = request.scope.get("route")
    return f"{request.method} {getattr(route, 'path', request.url.path)}"


async def admit(request: Request, role: Role, *, job_id: str | None = None) -> ReceivedRequest | None:
    """Count and record the request, inject the due fault, check the key.

    Returns the recorded body of a request that has one (POST), else None.
    """
    mock = mock_of(request)
    mock.stats.by_endpoint[endpoint_of(request)] += 1
    if job_id is not None and job_id in mock.jobs:
        mock.stats.by_job[job_id] += 1
    received = await _record_body(request, mock)

    fault = mock.take_request_fault(role)
    if fault == "http_500":
        raise MockError(500, "The service encountered an internal error. Please retry.")
    if fault == "http_429":
        raise MockError(
            429,
            "Too many requests. Please retry later.",
            headers={"Retry-After": str(mock.config.retry_after_s)},
        )
    if fault == "garbage_json":
        raise _Respond(Response(GARBAGE_JSON, 200, media_type="application/json"))
    if fault == "reset" or (fault == "timeout" and not await mock.hang()):
        await _drop_connection(request)

    presented = _bearer(request)
    if presented != mock.config.api_key:
        raise request.app.state.shape.auth_error(presented)
    return received


def json_object(received: ReceivedRequest | None, request: Request) -> dict[str, Any]:
    """The JSON object body, or a 400 that says why not (xAI and relays accept JSON only)."""
    content_type = request.headers.get("content-type", "")
    if not content_type.split(";")[0].strip().lower().endswith("json"):
        raise MockError(400, f"Content-Type must be application/json, got {content_type or 'none'!r}.")
    if received is None or not received.is_json:
        raise MockError(400, "The request body is not valid JSON.")
    if not isinstance(received.body, dict):
        raise MockError(400, "The request body must be a JSON object.")
    return received.body


def _bearer(request: Request) -> str | None:
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    return token.strip() if scheme.lower() == "bearer" and token.strip() else None


async def _record_body(request: Request, mock: MockUpstream) -> ReceivedRequest | None:
    raw = await request.body()
    if not raw:
        return None
    try:
        body, is_json = json.loads(raw), True
    except (UnicodeDecodeError, json.JSONDecodeError):
        body, is_json = raw.decode("utf-8", errors="replace"), False
    received = ReceivedRequest(endpoint_of(request), dict(request.headers), body, is_json=is_json)
    mock.stats.received.append(received)
    return received


async def _drop_connection(request: Request) -> NoReturn:
    """Reset the TCP connection (RST, no response) so the client sees a transport error."""
    transport: asyncio.Transport | None = request.scope.get(_TRANSPORT_KEY)
    if transport is None:
        # Not served by uvicorn (e.g. an in-process ASGI transport): the closest thing is an exception.
        raise ConnectionResetError("mock upstream reset the connection")
    sock = transport.get_extra_info("socket")
    if sock is not None and not transport.is_closing():
        # Linger 0 turns close into an RST instead of an orderly FIN.
        with contextlib.suppress(OSError):  # the client may have hung up already
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    transport.abort()
    # Let uvicorn see the loss, so it neither writes a response nor logs a missing one.
    for _ in range(5):
        await asyncio.sleep(0)
    raise _Respond(Response(status_code=500))


async def _serve_media(request: Request) -> Response:
    mock = mock_of(request)
    mock.stats.by_endpoint[endpoint_of(request)] += 1
    parsed = parse_media_name(request.path_params["name"])
    job = mock.jobs.get(parsed[0]) if parsed else None
    if parsed is None or job is None or mock.view(job).outcome != "succeeded":
        raise MockError(404, "No such media (unknown, unfinished, withheld or expired).")
    index = parsed[1]
    if job.media == "video" and index is None:
        return _media_response(await mock.media.video(job), "video/mp4", mock.config.media_bytes_per_s)
    if job.media == "image" and index is not None and index < job.count:
        return _media_response(await mock.media.image(job, index), "image/png", mock.config.media_bytes_per_s)
    raise MockError(404, "No such media.")


_THROTTLE_CHUNK_BYTES = 64 * 1024


def _media_response(path: Path, media_type: str, bytes_per_s: int | None) -> Response:
    """The file at full speed (with Range), or streamed at about ``bytes_per_s``."""
    if bytes_per_s is None:
        return FileResponse(path, media_type=media_type)

    async def paced() -> AsyncIterator[bytes]:
        with path.open("rb") as file:
            while chunk := file.read(_THROTTLE_CHUNK_BYTES):
                yield chunk
                await asyncio.sleep(len(chunk) / bytes_per_s)

    size = str(path.stat().st_size)
    return StreamingResponse(paced(), media_type=media_type, headers={"Content-Length": size})


class _Edge:
    """Outermost layer: remembers uvicorn's transport (for ``reset``) and adds per-response headers."""

    def __init__(self, app: ASGIApp, mock: MockUpstream, shape: Shape) -> None:
        self._app = app
        self._mock = mock
        self._shape = shape

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self._app(scope, receive, send)
            return
        # uvicorn's receive is a method of its per-request cycle, which holds the connection's transport.
        scope[_TRANSPORT_KEY] = getattr(getattr(receive, "__self__", None), "transport", None)
        rid = self._shape.new_request_id()
        scope[_REQUEST_ID_KEY] = rid
        headers: Headers = [(b"x-request-id", rid.encode())]
        if self._shape.response_headers is not None:
            headers += self._shape.response_headers(self._mock)

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                message = {**message, "headers": [*message.get("headers", ()), *headers]}
            await send(message)

        await self._app(scope, receive, send_with_headers)
