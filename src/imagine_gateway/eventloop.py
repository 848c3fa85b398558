"""The event loop the gateway's own processes run on: uvloop where it is installed.

uvicorn already picks uvloop for ``imagine serve``; ``imagine worker`` (and the benchmarks) use the
same loop, so a worker measured is a worker deployed. The worker's hot path crosses threads for every
SQLite statement and file write, and uvloop's cross-thread wake-ups cost less than asyncio's.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

T = TypeVar("T")


def loop_factory() -> Callable[[], asyncio.AbstractEventLoop] | None:
    """uvloop's loop factory, or None (asyncio's default loop) where uvloop is not installed."""
    try:
        import uvloop
    except ImportError:
        return None
    return uvloop.new_event_loop


def run(coro: Coroutine[Any, Any, T]) -> T:
    """``asyncio.run`` on the gateway's event loop."""
    with asyncio.Runner(loop_factory=loop_factory()) as runner:
        return runner.run(coro)
