"""When to look at an upstream job again. Pure: the caller supplies the clock."""

from __future__ import annotations

FIRST_POLL_S = 2.0
SLOW_AFTER_S = 600.0
SLOW_POLL_S = 30.0
JITTER = 0.1
"""A poll comes up to this share early or late, so jobs submitted together drift apart instead of
polling in lockstep (a burst at the upstream and in the worker every interval)."""


def poll_delay_s(attempt: int, *, output: str, duration_s: float | None = None, age_s: float = 0.0) -> float:
    """Seconds until poll number ``attempt`` (0-based) of a job that has run ``age_s``.

    The first poll comes after ~2 s; then the interval grows 1.25x per poll from a floor set by
    the output (images 3 s, videos 5 s, long videos 8 s) to a cap (10 s, 15 s for long videos); a job
    older than ten minutes is polled every 30 s, so polling load stays bounded however long it runs.
    """
    if attempt <= 0:
        return FIRST_POLL_S
    if age_s >= SLOW_AFTER_S:
        return SLOW_POLL_S
    if output == "image":
        floor, cap = 3.0, 10.0
    elif duration_s is not None and duration_s > 15:
        floor, cap = 8.0, 15.0
    else:
        floor, cap = 5.0, 10.0
    return min(cap, floor * 1.25 ** (attempt - 1))


def jittered(delay_s: float, draw: float) -> float:
    """``delay_s`` moved by up to ``JITTER`` either way; ``draw`` is the caller's uniform [0, 1) sample."""
    return delay_s * (1.0 + JITTER * (2.0 * draw - 1.0))


def retry_delay_s(attempt: int, *, base_s: float = 1.0, cap_s: float = 60.0) -> float:
    """Exponential backoff for a step that failed in a way worth retrying."""
    return float(min(cap_s, base_s * (2 ** max(0, attempt))))
