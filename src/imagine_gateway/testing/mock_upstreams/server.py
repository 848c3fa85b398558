"""Serve a mock upstream over real HTTP: in a background thread for tests, or blocking for the CLI.

with start_mock("xai", MockConfig(generation_time_s=0.2)) as upstream:
    httpx.post(f"{upstream.base_url}/v1/videos/generations", ...)
    upstream.mock.stats.by_endpoint
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable
from types import TracebackType

import uvicorn
from starlette.applications import Starlette

from imagine_gateway.testing.mock_upstreams import grokimagineapi, rivya, xai, xai_compatible
from imagine_gateway.testing.mock_upstreams.config import MockConfig
from imagine_gateway.testing.mock_upstreams.state import MockUpstream

KINDS: dict[str, Callable[[MockConfig | None], Starlette]] = {
    "xai": xai.create_app,
    "xai_compatible": xai_compatible.create_app,
    "grokimagineapi": grokimagineapi.create_app,
    "rivya": rivya.create_app,
}

_START_TIMEOUT_S = 10.0
_STOP_TIMEOUT_S = 10.0
# Benchmarks open thousands of connections at once; the kernel caps this at somaxconn anyway.
_BACKLOG = 16384


def create_mock_app(kind: str, config: MockConfig | None = None) -> Starlette:
    """The app of mock ``kind`` (one of ``KINDS``); raises ``ValueError`` for an unknown kind."""
    try:
        factory = KINDS[kind]
    except KeyError:
        raise ValueError(f"unknown mock upstream {kind!r}; choose one of {', '.join(KINDS)}") from None
    return factory(config)


class RunningMock:
    """A mock upstream served by uvicorn on a background thread; a context manager that stops it."""

    def __init__(
        self,
        app: Starlette,
        server: uvicorn.Server,
        thread: threading.Thread,
        sock: socket.socket,
        base_url: str,
    ) -> None:
        self.app = app
        self.base_url = base_url
        self._server = server
        self._thread = thread
        self._sock = sock

    @property
    def mock(self) -> MockUpstream:
        upstream: MockUpstream = self.app.state.mock
        return upstream

    def stop(self) -> None:
        """Stop serving at once (stalled requests are dropped) and delete rendered media."""
        self.mock.release_hangs()
        self._server.should_exit = True
        # A mock owes nobody a graceful shutdown; waiting would keep tests hanging on stalled requests.
        self._server.force_exit = True
        self._thread.join(_STOP_TIMEOUT_S)
        self._sock.close()
        self.mock.close()

    def __enter__(self) -> RunningMock:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()


def start_mock(
    kind: str, config: MockConfig | None = None, host: str = "127.0.0.1", port: int = 0
) -> RunningMock:
    """Serve mock ``kind`` on ``host:port`` (0 = any free port) and return once it accepts requests.

    Unless ``config.public_base_url`` is set, result URLs point at this server.
    """
    config = config or MockConfig()
    app = create_mock_app(kind, config)
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    # proto IPPROTO_TCP (not 0) makes asyncio set TCP_NODELAY on accepted connections; without it
    # Nagle holds each response body until the client's delayed ACK, ~40 ms per request.
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    bound_port = sock.getsockname()[1]
    url_host = f"[{host}]" if family == socket.AF_INET6 else host
    base_url = f"http://{url_host}:{bound_port}"
    if config.public_base_url is None:
        config.public_base_url = base_url

    server = uvicorn.Server(_uvicorn_config(app, host, bound_port, quiet=True))
    # uvicorn installs signal handlers only on the main thread, so this thread leaves them alone.
    thread = threading.Thread(
        target=server.run, kwargs={"sockets": [sock]}, name=f"mock-{kind}-{bound_port}", daemon=True
    )
    thread.start()
    deadline = time.monotonic() + _START_TIMEOUT_S
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            server.should_exit = True
            sock.close()
            app.state.mock.close()
            raise RuntimeError(f"mock upstream {kind!r} did not start on {base_url}")
        time.sleep(0.01)
    return RunningMock(app, server, thread, sock, base_url)


def run_mock(kind: str, host: str = "127.0.0.1", port: int = 9100, config: MockConfig | None = None) -> None:
    """Serve mock ``kind`` in the foreground until interrupted (``imagine mock-upstream``)."""
    app = create_mock_app(kind, config)
    try:
        uvicorn.Server(_uvicorn_config(app, host, port, quiet=False)).run()
    finally:
        app.state.mock.close()


def _uvicorn_config(app: Starlette, host: str, port: int, *, quiet: bool) -> uvicorn.Config:
    return uvicorn.Config(
        app,
        host=host,
        port=port,
        backlog=_BACKLOG,
        lifespan="off",
        access_log=not quiet,
        log_level="warning" if quiet else "info",
        # None keeps uvicorn from reconfiguring the logging of the process that hosts the thread.
        log_config=None if quiet else uvicorn.config.LOGGING_CONFIG,
    )
