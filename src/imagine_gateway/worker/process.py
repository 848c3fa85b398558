"""`imagine worker`: a process that only runs tasks (scale-out mode)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal

from imagine_gateway.runtime import Overrides, Runtime
from imagine_gateway.settings import Settings
from imagine_gateway.worker.listener import ops_listener

log = logging.getLogger("imagine_gateway.worker")

STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)


async def run_worker_process(settings: Settings, *, stop: asyncio.Event | None = None) -> None:
    """Run the worker loop until SIGINT/SIGTERM (or ``stop``); running steps get
    ``shutdown_grace_s`` to finish, the rest are handed back to other workers at once.

    The schema is not migrated here (``imagine db upgrade`` or ``imagine serve`` does that), and no
    webhooks are delivered: the API processes deliver them.
    """
    stop = stop or asyncio.Event()
    loop = asyncio.get_running_loop()
    handled: list[signal.Signals] = []
    for sig in STOP_SIGNALS:
        # Not available off the main thread (tests run workers in threads).
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, stop.set)
            handled.append(sig)
    try:
        runtime = Runtime(settings, Overrides(run_worker=True, migrate=False))
        # The listener outlives the runtime's stop, so /readyz says "stopping" while steps finish.
        async with ops_listener(runtime), runtime:
            assert runtime.context.worker is not None
            log.info("worker %s started", runtime.context.worker.owner)
            await runtime.wait(stop)
    finally:
        for sig in handled:
            loop.remove_signal_handler(sig)
