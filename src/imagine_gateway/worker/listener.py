"""``imagine worker``'s small HTTP listener: ``/healthz``, ``/readyz`` and ``/metrics`` only.

Off unless ``IMAGINE_WORKER_HTTP_PORT`` is set. uvicorn serves it inside the worker's event loop;
the worker keeps its own signal handling (the listener installs none).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Iterator

import uvicorn

from imagine_gateway.runtime import Runtime
from imagine_gateway.runtime.endpoints import ops_app

log = logging.getLogger("imagine_gateway.worker")


class _QuietServer(uvicorn.Server):
    """A uvicorn server that leaves the process's signals to the worker."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


@contextlib.asynccontextmanager
async def ops_listener(runtime: Runtime) -> AsyncIterator[int | None]:
    """Serve the operator's routes of ``runtime`` while the block runs; yields the bound port."""
    settings = runtime.settings
    if settings.worker_http_port is None:
        yield None
        return
    config = uvicorn.Config(
        ops_app(runtime),
        host=settings.worker_http_host,
        port=settings.worker_http_port,
        lifespan="off",
        access_log=settings.access_log,
        log_config=None,
    )
    server = _QuietServer(config)
    serving = asyncio.create_task(server.serve(), name="worker-http")
    while not server.started:
        if serving.done():  # could not bind: say why, as the worker starts
            await serving
            raise RuntimeError(f"the worker's listener could not start on port {settings.worker_http_port}")
        await asyncio.sleep(0.01)
    port = _bound_port(server) or settings.worker_http_port
    log.info("worker listener on http://%s:%d (/healthz, /readyz, /metrics)", settings.worker_http_host, port)
    try:
        yield port
    finally:
        server.should_exit = True
        await serving


def _bound_port(server: uvicorn.Server) -> int | None:
    for listening in getattr(server, "servers", []):
        for sock in listening.sockets:
            return int(sock.getsockname()[1])
    return None
