"""Per-key rate limits: at most N requests in any window of the limit's length.

One API process keeps the count in memory, in sixty buckets per window (`BucketWindow`). A
request is admitted while the buckets that overlap the last window hold fewer than N. The oldest
bucket is counted whole, so a slot frees at most one bucket (1/60 of the window) later than an
exact log of timestamps would free it, and never earlier: no burst at a window's edge, whatever the
traffic before. Each request costs the same at any rate, and a key holds 61 counters whatever its
limit.

In scale-out (`IMAGINE_REDIS_URL`) the API processes share the count through Redis, with the
`limits` library's moving window: an exact log of the last N requests per key, kept in one Redis
list and checked in one Lua script. While Redis does not answer, each process counts in its own
memory instead, as if alone (a key then gets up to its limit from each process), tries Redis again
a second later, and logs so at most once a minute. A request waits at most a second for Redis to
connect or answer. A request is not refused because the counter is away, and what it may cost is
still bounded by the account's balance and the key's caps, which live in the database.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from limits import RateLimitItem, parse
from limits.aio.storage import RedisStorage
from limits.aio.strategies import MovingWindowRateLimiter
from redis import RedisError

from imagine_gateway.core.errors import RateLimited

BUCKETS = 60
UNSHARED_LOG_EVERY_S = 60.0
SHARED_RETRY_S = 1.0  # after Redis failed, how long hits are counted in memory without asking it
REDIS_TIMEOUT_S = 1.0
log = logging.getLogger("imagine_gateway.ratelimit")


@dataclass(slots=True)
class Verdict:
    """What one request's hit found: admitted or not, what is left, and when a slot frees."""

    allowed: bool
    remaining: int
    reset_s: float


@dataclass(slots=True)
class BucketWindow:
    """Counts of one key's admitted requests, in buckets of window/60 seconds, oldest first."""

    limit: int
    window_s: float
    counts: list[int] = field(default_factory=lambda: [0] * (BUCKETS + 1))
    total: int = 0
    # The absolute number (time // width) of the newest bucket; counts[n % (BUCKETS + 1)] is bucket n.
    newest: int = 0

    @property
    def width(self) -> float:
        return self.window_s / BUCKETS

    def _advance(self, bucket: int) -> None:
        """Forget buckets that no longer overlap the window that ends in `bucket`."""
        if bucket <= self.newest:
            return
        if bucket - self.newest > BUCKETS:
            self.counts = [0] * (BUCKETS + 1)
            self.total = 0
        else:
            for number in range(self.newest + 1, bucket + 1):
                slot = number % (BUCKETS + 1)
                self.total -= self.counts[slot]
                self.counts[slot] = 0
        self.newest = bucket

    def hit(self, now: float) -> Verdict:
        """Admit one request at `now` if fewer than `limit` were admitted in the window before it."""
        self._advance(int(now // self.width))
        allowed = self.total < self.limit
        if allowed:
            self.counts[self.newest % (BUCKETS + 1)] += 1
            self.total += 1
        return Verdict(allowed, self.limit - self.total, self._frees_at(now))

    def _frees_at(self, now: float) -> float:
        """Seconds until the oldest counted request leaves the window (0 when none is counted)."""
        if not self.total:
            return 0.0
        for number in range(self.newest - BUCKETS, self.newest + 1):
            if self.counts[number % (BUCKETS + 1)]:
                # Bucket `number` stops overlapping once the newest bucket is number + BUCKETS + 1.
                return (number + BUCKETS + 1) * self.width - now
        return 0.0  # unreachable: total > 0 means some bucket is non-zero

    def idle(self, now: float) -> bool:
        """Whether every bucket has left the window, so the window can be dropped."""
        return int(now // self.width) - self.newest > BUCKETS


class MemoryLimits:
    """The windows of one process, one per key and limit, with idle ones swept every window."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self.clock = clock
        self.windows: dict[tuple[str, int, float], BucketWindow] = {}
        self._swept_at = clock()

    def hit(self, key_id: str, limit: int, window_s: float) -> Verdict:
        """Count one request of `key_id` against `limit` per `window_s`. Called on the event loop's
        thread only (the HTTP server's and the gRPC server's, which share it), with no ``await``
        inside, so one hit is never interleaved with another."""
        now = self.clock()
        if now - self._swept_at > window_s:
            self._sweep(now)
        window = self.windows.get((key_id, limit, window_s))
        if window is None:
            window = self.windows[(key_id, limit, window_s)] = BucketWindow(limit, window_s)
        return window.hit(now)

    def _sweep(self, now: float) -> None:
        self._swept_at = now
        for name in [name for name, window in self.windows.items() if window.idle(now)]:
            del self.windows[name]


class RateLimiter:
    """The gateway's limiter: memory buckets in one process, a Redis moving window in scale-out."""

    def __init__(
        self, default_limit: str, *, redis_url: str | None = None, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.default = parse(default_limit)
        self.memory = MemoryLimits(clock)
        # redis-py (already a dependency) rather than the default coredis client.
        self.redis = (
            RedisStorage(
                _async_redis(redis_url),
                implementation="redispy",
                socket_connect_timeout=REDIS_TIMEOUT_S,
                socket_timeout=REDIS_TIMEOUT_S,
            )
            if redis_url
            else None
        )
        self.shared = MovingWindowRateLimiter(self.redis) if self.redis else None
        self._parsed: dict[str, RateLimitItem] = {}
        self._clock = clock
        self._unshared_logged_at: float | None = None
        self._unshared_until = float("-inf")
        self.unshared = 0  # hits counted in this process's memory because Redis did not answer
        self.redis_failures = 0  # of those, the ones that asked Redis (the others within the retry)

    def _item(self, limit: str | None) -> RateLimitItem:
        if not limit:
            return self.default
        item = self._parsed.get(limit)
        if item is None:
            item = self._parsed[limit] = parse(limit)
        return item

    async def hit(self, key_id: str, limit: str | None = None) -> tuple[dict[str, str], RateLimited | None]:
        """Count one request: the X-RateLimit-* headers, and the error to raise when over the limit."""
        item = self._item(limit)
        verdict = await self._verdict(item, key_id)
        reset_s = max(0, math.ceil(verdict.reset_s))
        headers = {
            "X-RateLimit-Limit": str(item.amount),
            "X-RateLimit-Remaining": str(max(0, verdict.remaining)),
            "X-RateLimit-Reset": str(reset_s),
        }
        if verdict.allowed:
            return headers, None
        return headers, RateLimited(
            f"Too many requests: the limit is {item.amount} per {item.get_expiry()} s. Back off and retry.",
            retry_after_s=max(1, reset_s),
        )

    async def _verdict(self, item: RateLimitItem, key_id: str) -> Verdict:
        if self.shared is not None:
            shared = await self._shared_verdict(self.shared, item, key_id)
            if shared is not None:
                return shared
            self.unshared += 1
        return self.memory.hit(key_id, item.amount, float(item.get_expiry()))

    async def _shared_verdict(
        self, shared: MovingWindowRateLimiter, item: RateLimitItem, key_id: str
    ) -> Verdict | None:
        """The count through Redis; None while it does not answer (asked again a second after it failed)."""
        if self._clock() < self._unshared_until:
            return None
        try:
            allowed = await shared.hit(item, key_id)
            stats = await shared.get_window_stats(item, key_id)
        except (RedisError, OSError) as exc:
            self.redis_failures += 1
            now = self._clock()
            self._unshared_until = now + SHARED_RETRY_S
            if self._unshared_logged_at is None or now - self._unshared_logged_at >= UNSHARED_LOG_EVERY_S:
                self._unshared_logged_at = now
                log.warning("Redis does not answer (%s); rate limits count in this process alone", exc)
            return None
        return Verdict(allowed, stats.remaining, stats.reset_time - time.time())

    async def aclose(self) -> None:
        """Close the Redis pool (limits has no close of its own; its bridge holds a redis-py client)."""
        client = getattr(getattr(self.redis, "bridge", None), "storage", None)
        if client is not None:
            await client.aclose()


def _async_redis(url: str) -> str:
    return url if url.startswith("async+") else f"async+{url}"
