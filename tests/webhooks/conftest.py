"""Gateways that may deliver to loopback, and a real receiver that records what it is sent."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from imagine_gateway import Client
from imagine_gateway.testing.loopback import LoopbackServer
from tests.conftest import Gateway, Key, start_gateway

FAST_WEBHOOKS = {
    "webhook_allow_private": True,
    "webhook_poll_interval_s": 0.05,
    "webhook_retry_delays_s": (0.1, 0.2),
}


@dataclass(frozen=True)
class Received:
    path: str
    headers: dict[str, str]
    body: bytes


@dataclass
class Receiver:
    """Answers each POST with the next status of ``script`` (then 200) and records it."""

    server: LoopbackServer
    script: list[int] = field(default_factory=list)
    received: list[Received] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def url(self) -> str:
        return self.server.base_url

    async def handle(self, request: Request) -> Response:
        body = await request.body()
        with self._lock:
            self.received.append(Received(request.url.path, dict(request.headers), body))
            status = self.script.pop(0) if self.script else 200
        return Response(status_code=status)

    def wait_for(self, count: int, timeout_s: float = 15.0) -> list[Received]:
        deadline = time.monotonic() + timeout_s
        while len(self.received) < count:
            if time.monotonic() > deadline:
                raise AssertionError(f"{len(self.received)} of {count} webhooks arrived in {timeout_s} s")
            time.sleep(0.02)
        return list(self.received)


@contextmanager
def receiving() -> Iterator[Receiver]:
    """A Receiver on its own loopback server, stopped on leaving."""
    server = LoopbackServer()
    made = Receiver(server)
    server.app = Starlette(routes=[Route("/{path:path}", made.handle, methods=["POST"])])
    server.start()
    try:
        yield made
    finally:
        server.stop()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with receiving() as made:
        yield made


@pytest.fixture(scope="module")
def hook_gateway(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Gateway]:
    gateway = start_gateway(tmp_path_factory.mktemp("hooks"), **FAST_WEBHOOKS)
    yield gateway
    gateway.stop()


@dataclass
class Account:
    gateway: Gateway
    key: Key
    client: Client


@pytest.fixture
def account(hook_gateway: Gateway) -> Iterator[Account]:
    key = hook_gateway.key(credits=1000)
    with Client(base_url=hook_gateway.base_url, api_key=key.secret) as client:
        yield Account(hook_gateway, key, client)
