"""The gateway's FastAPI class hands a hot route's request to its first own middleware, past
FastAPI's outer layers; every other request, and every request of an app without such a
middleware, takes FastAPI's whole way."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from imagine_gateway.api.gateway_app import GatewayApp


@dataclass(frozen=True)
class Hot:
    template: str
    handler: Callable[..., Any]


class HotPaths:
    """A hot table of the gateway's shape that takes ``GET /hot``."""

    def match(self, method: str, path: str) -> tuple[Hot, str] | None:
        return (Hot("/hot", _never), "") if (method, path) == ("GET", "/hot") else None


async def _never(*_: Any) -> None:
    raise AssertionError("the table's handler is the edge's business, not the app's")


@dataclass
class Seen:
    """What the recording middleware was handed, request by request."""

    sends: list[Send] = field(default_factory=list)
    apps: list[object] = field(default_factory=list)


class Recording:
    """A middleware that notes the ``send`` and ``scope['app']`` it is called with."""

    def __init__(self, app: ASGIApp, seen: Seen) -> None:
        self.app = app
        self.seen = seen

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            self.seen.sends.append(send)
            self.seen.apps.append(scope.get("app"))
        await self.app(scope, receive, send)


def _app(seen: Seen | None) -> GatewayApp:
    app = GatewayApp(hot=HotPaths(), telemetry={"tracing": False, "metrics": False, "logs": False})

    @app.get("/hot")
    async def hot() -> dict[str, str]:
        return {"route": "hot"}

    @app.get("/cold")
    async def cold() -> dict[str, str]:
        return {"route": "cold"}

    if seen is not None:
        app.add_middleware(Recording, seen=seen)
    return app


async def _get(app: ASGIApp, path: str) -> tuple[list[Message], Send]:
    """``GET path`` through ``app`` as a server calls it: the messages sent and the send given."""
    sent: list[Message] = []

    async def receive() -> Message:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: Message) -> None:
        sent.append(message)

    scope: Scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "root_path": "",
        "query_string": b"",
        "headers": [(b"host", b"gateway.test")],
        "client": ("127.0.0.1", 50000),
        "server": ("127.0.0.1", 8000),
    }
    await app(scope, receive, send)
    return sent, send


def _answer(sent: list[Message]) -> tuple[int, bytes]:
    return int(sent[0]["status"]), b"".join(m.get("body", b"") for m in sent[1:])


async def test_a_hot_request_reaches_the_first_own_middleware_with_the_servers_own_send() -> None:
    seen = Seen()
    app = _app(seen)
    sent, send = await _get(app, "/hot")
    assert _answer(sent) == (200, b'{"route":"hot"}')
    assert seen.sends == [send]  # nothing of FastAPI's wrapped it on the way
    assert seen.apps == [app]  # Request.app works as on FastAPI's way


async def test_any_other_request_takes_fastapis_whole_way() -> None:
    seen = Seen()
    app = _app(seen)
    sent, send = await _get(app, "/cold")
    assert _answer(sent) == (200, b'{"route":"cold"}')
    assert len(seen.sends) == 1 and seen.sends[0] is not send  # ServerErrorMiddleware's wrapper
    assert seen.apps == [app]


async def test_an_app_without_own_middleware_serves_its_hot_paths_on_fastapis_way() -> None:
    app = _app(None)
    sent, _ = await _get(app, "/hot")
    assert _answer(sent) == (200, b'{"route":"hot"}')
    assert app.hot is None  # decided once, for every later request
