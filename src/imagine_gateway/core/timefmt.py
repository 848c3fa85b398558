"""Timestamps on the wire."""

from __future__ import annotations

import functools
from datetime import UTC, datetime


def iso_ms(epoch_ms: int | None) -> str | None:
    """``2026-05-11T00:00:00.000Z`` as in the Rivya contract."""
    if epoch_ms is None:
        return None
    return _iso(epoch_ms)


@functools.lru_cache(maxsize=16384)
def _iso(epoch_ms: int) -> str:
    # Every view of a task formats the same few instants (created, updated, completed) again:
    # polls of a running task and pages of a list ask for them many times, and formatting costs
    # three times the lookup. 16,384 instants are about 2 MB.
    seconds, millis = divmod(epoch_ms, 1000)
    return f"{_iso_second(seconds)}.{millis:03d}Z"


@functools.lru_cache(maxsize=4096)
def _iso_second(epoch_s: int) -> str:
    return datetime.fromtimestamp(epoch_s, tz=UTC).strftime("%Y-%m-%dT%H:%M:%S")
