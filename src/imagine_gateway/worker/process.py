"""`imagine worker`: a process that only runs tasks (scale-out mode)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal

from imagine_gateway.api.app import Overrides, build_context
from imagine_gateway.settings import Settings

log = logging.getLogger("imagine_gateway.worker")


async def run_worker_process(settings: Settings, *, stop: asyncio.Event | None = None) -> None:
    """Run the worker loop until SIGINT/SIGTERM (or ``stop``); finishes running steps first."""
    ctx = build_context(settings, Overrides(run_worker=True))
    assert ctx.worker is not None
    stop = stop or asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        # Not available off the main thread (tests run workers in threads).
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, stop.set)
    from imagine_gateway.delivery.redis_events import RedisEventBus

    if isinstance(ctx.events, RedisEventBus):
        await ctx.events.start()
    log.info("worker %s started", ctx.worker.owner)
    from imagine_gateway.worker.sweeper import Sweeper

    sweeper = Sweeper(db=ctx.db, storage=ctx.storage, clock=ctx.clock, interval_s=settings.sweep_interval_s)
    sweep_task = asyncio.create_task(sweeper.run(stop))
    try:
        await ctx.worker.run(stop)
        await sweep_task
    finally:
        await ctx.router.aclose()
        await ctx.events.aclose()
        await ctx.storage.aclose()
        await ctx.db.dispose()
