"""The retry policy the sync and async clients share: which failures are resent, and after how long."""

from __future__ import annotations

import email.utils
import random
import time
from collections.abc import Mapping

import httpx

MAX_RETRY_AFTER_S = 60.0
INITIAL_RETRY_DELAY_S = 0.5
MAX_RETRY_DELAY_S = 8.0
# Statuses after which the server may or may not have acted: resent only when that is harmless.
RETRYABLE_STATUSES = frozenset({408, 500, 502, 503, 504})


def retry_after_s(headers: Mapping[str, str]) -> float | None:
    """``Retry-After`` (seconds or an HTTP date) or ``retry-after-ms``, in seconds; None if absent."""
    lowered = {k.lower(): v for k, v in headers.items()}
    raw_ms = lowered.get("retry-after-ms")
    if raw_ms is not None:
        try:
            return max(float(raw_ms) / 1000, 0.0)
        except ValueError:
            pass
    raw = lowered.get("retry-after")
    if raw is None:
        return None
    try:
        return max(float(raw), 0.0)
    except ValueError:
        pass
    moment = email.utils.parsedate_to_datetime(raw) if raw else None
    if moment is None:
        return None
    return max(moment.timestamp() - time.time(), 0.0)


def backoff_s(attempt: int) -> float:
    """Exponential backoff with jitter for retry number ``attempt`` (1, 2, ...)."""
    base: float = min(INITIAL_RETRY_DELAY_S * 2.0 ** (attempt - 1), MAX_RETRY_DELAY_S)
    return base * (0.75 + random.random() * 0.25)


def retry_delay_s(
    replay_safe: bool,
    attempt: int,
    max_retries: int,
    *,
    response: httpx.Response | None = None,
    error: Exception | None = None,
) -> float | None:
    """How long to wait before resending a call after attempt number ``attempt``; None: do not.

    Connection failures before anything was sent and 429 (refused before any work) are always
    retried; 5xx, 408 and broken connections only when resending is harmless (``replay_safe``).
    """
    if attempt > max_retries:
        return None
    if error is not None:
        never_sent = isinstance(error, httpx.ConnectError | httpx.ConnectTimeout | httpx.PoolTimeout)
        if not (never_sent or (replay_safe and isinstance(error, httpx.TransportError))):
            return None
        return backoff_s(attempt)
    assert response is not None
    status = response.status_code
    if status != 429 and not (status in RETRYABLE_STATUSES and replay_safe):
        return None
    wait = retry_after_s(response.headers)
    if wait is not None and wait <= MAX_RETRY_AFTER_S:
        return wait
    return backoff_s(attempt)
