"""Timestamps on the wire."""

from __future__ import annotations

from datetime import UTC, datetime


def iso_ms(epoch_ms: int | None) -> str | None:
    """``2026-05-11T00:00:00.000Z`` as in the Rivya contract."""
    if epoch_ms is None:
        return None
    moment = datetime.fromtimestamp(epoch_ms / 1000, tz=UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{epoch_ms % 1000:03d}Z"
