"""The clock as an interface: core code is handed the time, never reads it."""

from __future__ import annotations

import time
from typing import Protocol


class Clock(Protocol):
    def now_ms(self) -> int:
        """Wall-clock time in epoch milliseconds."""
        ...


class SystemClock:
    """The real clock (the one place that reads it)."""

    def now_ms(self) -> int:
        return time.time_ns() // 1_000_000
