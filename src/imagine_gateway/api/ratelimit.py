"""Per-key rate limits with the `limits` library (memory here, Redis in scale-out).

The strategy is the sliding window counter: the count of the current fixed window plus the previous
window's, weighted by how much of it still overlaps the sliding window. It costs the same at any
rate, two counters per key, where a moving window keeps one entry per request of the last window
(100,000 entries at 600 requests a second over a minute) and rewrites that list as it expires.
It smooths the burst a fixed window allows at its edge; it may admit slightly more or fewer than
the exact count of the last 60 s, when the traffic of the previous window was uneven.
"""

from __future__ import annotations

import math
import time

from limits import RateLimitItem, parse
from limits.aio.storage import MemoryStorage, RedisStorage, Storage
from limits.aio.strategies import SlidingWindowCounterRateLimiter

from imagine_gateway.core.errors import RateLimited


class RateLimiter:
    """One sliding window counter per API key."""

    def __init__(self, default_limit: str, *, redis_url: str | None = None) -> None:
        self.default = parse(default_limit)
        # redis-py (already a dependency) rather than the default coredis client.
        self.storage: Storage = (
            RedisStorage(_async_redis(redis_url), implementation="redispy") if redis_url else MemoryStorage()
        )
        self.limiter = SlidingWindowCounterRateLimiter(self.storage)
        self._parsed: dict[str, RateLimitItem] = {}

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
        allowed = await self.limiter.hit(item, key_id)
        stats = await self.limiter.get_window_stats(item, key_id)
        reset_s = max(0, math.ceil(stats.reset_time - time.time()))
        headers = {
            "X-RateLimit-Limit": str(item.amount),
            "X-RateLimit-Remaining": str(max(0, stats.remaining)),
            "X-RateLimit-Reset": str(reset_s),
        }
        if allowed:
            return headers, None
        return headers, RateLimited(
            f"Too many requests: the limit is {item.amount} per {item.get_expiry()} s. Back off and retry.",
            retry_after_s=max(1, reset_s),
        )

    async def aclose(self) -> None:
        """Close the Redis pool (limits has no close of its own; its bridge holds a redis-py client)."""
        client = getattr(getattr(self.storage, "bridge", None), "storage", None)
        if client is not None:
            await client.aclose()


def _async_redis(url: str) -> str:
    return url if url.startswith("async+") else f"async+{url}"
