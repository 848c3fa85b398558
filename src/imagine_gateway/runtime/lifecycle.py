"""Starting and stopping one gateway process's parts: in order, each once, all closed on the way out."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Coroutine
from contextlib import AsyncExitStack
from types import TracebackType
from typing import Any

from imagine_gateway.delivery.redis_events import RedisEventBus
from imagine_gateway.providers.registry import uses_sandbox
from imagine_gateway.providers.router import Router
from imagine_gateway.runtime.context import Context, Overrides, TaskView, build_context
from imagine_gateway.settings import Settings
from imagine_gateway.store.migrate import upgrade

log = logging.getLogger("imagine_gateway")

Close = Callable[[], Awaitable[None]]


class Runtime:
    """One gateway process: ``async with Runtime(settings) as rt:`` runs every part it was built with.

    ``Runtime(...)`` builds ``rt.context`` (no connection yet). Entering starts, in this order: the
    migrations (unless ``Overrides.migrate`` is off), the event bus, the worker loop, provider probing,
    webhook delivery and the retention sweeper. Leaving (or ``begin_shutdown``, on SIGTERM) tells
    every loop to stop at once and ends every event stream; leaving then waits for each loop in the
    reverse order (the worker finishes the steps it runs within ``shutdown_grace_s`` and hands the
    others back), then closes the event bus, the providers, the storage and the database. A part
    that fails to start or to stop does not keep the others from closing; its error is raised once
    they are closed.
    """

    def __init__(
        self, settings: Settings, overrides: Overrides | None = None, *, webhook_view: TaskView | None = None
    ) -> None:
        self.overrides = overrides or Overrides()
        self.context: Context = build_context(settings, self.overrides, webhook_view=webhook_view)
        # The parts started and not yet stopped, in start order (what a health check may report).
        self.running: list[str] = []
        self._stop = asyncio.Event()
        # starting -> running -> stopping: what /readyz reports beside its checks.
        self.phase = "starting"
        self._loops: list[asyncio.Task[None]] = []
        self._stack: AsyncExitStack | None = None
        self._entered = False

    @property
    def settings(self) -> Settings:
        """The settings every part runs with (the signing secret settled)."""
        return self.context.settings

    async def __aenter__(self) -> Runtime:
        if self._entered:
            raise RuntimeError("a Runtime starts once; build a new one to start again")
        self._entered = True
        stack = AsyncExitStack()
        try:
            await self._start(stack)
        except BaseException as exc:
            if not await stack.__aexit__(type(exc), exc, exc.__traceback__):
                raise
        self._stack = stack
        if self.phase == "starting":
            self.phase = "running"
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> bool:
        self.begin_shutdown()
        stack, self._stack = self._stack, None
        if stack is None:
            return False
        return bool(await stack.__aexit__(exc_type, exc, tb))

    def begin_shutdown(self) -> None:
        """Stop taking work, at once: the loops stop claiming, every event stream ends with a last
        event, and readiness turns false. Leaving the ``async with`` then waits for the loops."""
        self.phase = "stopping"
        self._stop.set()
        self.context.events.end_streams()

    async def wait(self, stop: asyncio.Event | None = None) -> None:
        """Return when ``stop`` is set, or when a loop ended on its own (leaving then raises its error)."""
        stop = stop or asyncio.Event()
        stopped = asyncio.ensure_future(stop.wait())
        try:
            await asyncio.wait([stopped, *self._loops], return_when=asyncio.FIRST_COMPLETED)
        finally:
            stopped.cancel()
        for loop in self._loops:
            if loop.done() and not stop.is_set():
                log.error("the %s loop ended on its own; stopping", loop.get_name())

    async def _start(self, stack: AsyncExitStack) -> None:
        ctx, overrides = self.context, self.overrides
        # The resources come first so that they close last; closing one never used is harmless.
        await self._part(stack, "database", close=ctx.db.dispose)
        await self._part(stack, "storage", close=ctx.storage.aclose)
        await self._part(stack, "providers", close=ctx.router.aclose)
        if overrides.migrate:
            await asyncio.to_thread(upgrade, ctx.settings.resolved_database_url)
        if overrides.announce_sandbox and uses_sandbox(ctx.router):
            log.warning(
                "No upstream key is configured: generations are rendered by the local SANDBOX "
                "engine (marked output, no real Grok Imagine calls)."
            )
        events = ctx.events
        await self._part(
            stack,
            "events",
            start=events.start if isinstance(events, RedisEventBus) else None,
            close=events.aclose,
        )
        loops = overrides.start_loops
        if ctx.worker is not None:
            worker = ctx.worker
            await self._part(
                stack, "worker", loop=worker.run(self._stop) if loops else None, close=worker.drain
            )
            if loops:
                # Only where tasks are routed does a provider's health matter.
                interval_s = ctx.settings.provider_probe_interval_s
                await self._part(stack, "probing", loop=probe_providers(ctx.router, interval_s, self._stop))
        if ctx.webhook_dispatcher is not None:
            dispatcher = ctx.webhook_dispatcher
            await self._part(
                stack, "webhooks", loop=dispatcher.run(self._stop) if loops else None, close=dispatcher.aclose
            )
        if ctx.sweeper is not None and loops:
            await self._part(stack, "sweeper", loop=ctx.sweeper.run(self._stop))

    async def _part(
        self,
        stack: AsyncExitStack,
        name: str,
        *,
        start: Close | None = None,
        loop: Coroutine[Any, Any, None] | None = None,
        close: Close | None = None,
    ) -> None:
        """Start one part, its stop registered first, so a part that fails half-way is closed too."""
        task: asyncio.Task[None] | None = None

        async def stop() -> None:
            try:
                if task is not None:
                    self._stop.set()
                    await task
            finally:
                try:
                    if close is not None:
                        await close()
                finally:
                    if name in self.running:
                        self.running.remove(name)

        stack.push_async_callback(stop)
        if start is not None:
            await start()
        if loop is not None:
            task = asyncio.create_task(loop, name=name)
            self._loops.append(task)
        self.running.append(name)


async def probe_providers(router: Router, interval_s: float, stop: asyncio.Event) -> None:
    """Probe the providers whose breaker cooled down, every ``interval_s``, until ``stop`` is set."""
    while not stop.is_set():
        try:
            await router.probe_due()
        except Exception:  # a probe round that cannot run is retried at the next interval
            log.exception("probing providers failed")
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), timeout=interval_s)
