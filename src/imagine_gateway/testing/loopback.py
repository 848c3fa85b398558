"""Run an ASGI app on a real loopback port in a background thread."""

from __future__ import annotations

import socket
import threading
import time
from types import TracebackType

import uvicorn
from starlette.types import ASGIApp


class LoopbackServer:
    """``with LoopbackServer(app) as server: httpx.get(server.base_url + "/...")``.

    The port is bound at construction, so an app that must know its own URL can be built after:
    ``server = LoopbackServer(); server.app = make_app(server.base_url); server.start()``.
    """

    def __init__(
        self,
        app: ASGIApp | None = None,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        log_level: str = "warning",
    ) -> None:
        self.host = host
        self.app = app
        self.log_level = log_level
        # IPPROTO_TCP explicitly: with proto 0, asyncio leaves Nagle on for accepted connections
        # (~40 ms per request on loopback).
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
        self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._sock.bind((host, port))
        self.port: int = self._sock.getsockname()[1]
        self.server: uvicorn.Server | None = None
        self._thread = threading.Thread(target=self._serve, name=f"loopback:{self.port}", daemon=True)

    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def _serve(self) -> None:
        assert self.server is not None
        self.server.run(sockets=[self._sock])

    def start(self, timeout_s: float = 20.0) -> LoopbackServer:
        if self.app is None:
            raise RuntimeError("set .app before starting")
        config = uvicorn.Config(
            self.app, log_level=self.log_level, lifespan="on", timeout_graceful_shutdown=5
        )
        self.server = uvicorn.Server(config)
        self._thread.start()
        deadline = time.monotonic() + timeout_s
        while not self.server.started:
            if not self._thread.is_alive():
                raise RuntimeError("the server thread ended during start-up")
            if time.monotonic() > deadline:
                raise TimeoutError("the server did not start in time")
            time.sleep(0.01)
        return self

    def stop(self) -> None:
        if self.server is None:
            self._sock.close()
            return
        self.server.should_exit = True
        self._thread.join(timeout=30)
        self._sock.close()

    def __enter__(self) -> LoopbackServer:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()
