"""Hearing SIGTERM/SIGINT before the server that owns them acts on them.

uvicorn waits for every open connection to close before it runs the application's shutdown, so an
event stream that follows a task for half an hour would hold the process that long. Chained in
front of the server's own handler, ``forward_stop_signals`` lets the runtime end its streams and
stop claiming work the moment the signal arrives; the server's handler then runs as before.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import threading
from collections.abc import Callable, Iterator
from types import FrameType
from typing import Any

STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)


@contextlib.contextmanager
def forward_stop_signals(callback: Callable[[], None]) -> Iterator[None]:
    """Call ``callback`` on the event loop on SIGINT/SIGTERM, then the handler that was there.

    A no-op off the main thread (signals are delivered only there), as in tests that run servers
    in threads.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    loop = asyncio.get_running_loop()
    previous: dict[signal.Signals, Any] = {}

    def handler(sig: int, frame: FrameType | None) -> None:
        loop.call_soon_threadsafe(callback)
        before = previous.get(signal.Signals(sig))
        if callable(before):
            before(sig, frame)
        elif before == signal.SIG_DFL:  # nobody else listens: end the process as the signal would
            signal.signal(sig, signal.SIG_DFL)
            signal.raise_signal(sig)

    for sig in STOP_SIGNALS:
        previous[sig] = signal.getsignal(sig)
        signal.signal(sig, handler)
    try:
        yield
    finally:
        for sig, before in previous.items():
            if signal.getsignal(sig) is handler:
                signal.signal(sig, before)
