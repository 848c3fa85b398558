"""The rate limit of one API process: never more than N requests in any window, and no longer closed
than one bucket (1/60 of the window) past the exact moment a slot frees."""

from __future__ import annotations

import asyncio
import random
from dataclasses import dataclass

from imagine_gateway.api.ratelimit import RateLimiter


@dataclass
class HandClock:
    """Seconds on a monotonic clock the test moves by hand."""

    now: float = 10_000.0

    def __call__(self) -> float:
        return self.now


def hits(limiter: RateLimiter, clock: HandClock, times: list[float], limit: str) -> list[dict[str, str]]:
    """Hit one key at each offset from the clock's start; each hit's headers plus its verdict."""
    start = clock.now
    seen = []
    for offset in times:
        clock.now = start + offset
        headers, over = asyncio.run(limiter.hit("key_1", limit))
        seen.append({**headers, "admitted": str(over is None)})
    return seen


def test_a_window_edge_admits_nothing_beyond_the_limit() -> None:
    clock = HandClock(now=59.9)  # a tenth of a second before a minute's boundary
    limiter = RateLimiter("600/minute", clock=clock)

    seen = hits(limiter, clock, [0.0, 0.2, 30.0, 59.9, 61.0], "1/minute")

    assert [(s["admitted"], s["X-RateLimit-Remaining"]) for s in seen] == [
        ("True", "0"),
        ("False", "0"),  # the next minute has begun, but the first request is 0.2 s old
        ("False", "0"),
        ("False", "0"),  # 59.9 s later: the exact moment would be 60.0 s
        ("True", "0"),  # 61.0 s later: the bucket of the first request has left the window
    ]
    assert [s["X-RateLimit-Reset"] for s in seen] == ["61", "60", "31", "1", "61"]


def test_headers_count_down_and_name_the_limit() -> None:
    clock = HandClock()
    limiter = RateLimiter("3/minute", clock=clock)

    seen = hits(limiter, clock, [0.0, 1.0, 2.0, 3.0], "")

    assert [
        (s["X-RateLimit-Limit"], s["X-RateLimit-Remaining"], s["X-RateLimit-Reset"], s["admitted"])
        for s in seen
    ] == [
        ("3", "2", "61", "True"),
        ("3", "1", "60", "True"),
        ("3", "0", "59", "True"),
        ("3", "0", "58", "False"),
    ]


def test_random_traffic_never_exceeds_the_limit_in_any_window_and_waits_at_most_one_bucket_longer() -> None:
    rng = random.Random(16)
    clock = HandClock(now=0.0)
    limiter = RateLimiter("600/minute", clock=clock)
    limit, window, bucket = 20, 60.0, 1.0
    # Bursts and lulls, 2,000 requests over about 20 windows.
    spread = [rng.choice([rng.uniform(0, 1200), rng.gauss(300, 2), rng.gauss(900, 0.5)]) for _ in range(2000)]
    times = sorted(t for t in spread if t >= 0)

    seen = hits(limiter, clock, times, f"{limit}/minute")
    verdicts = [(t, s["admitted"] == "True") for t, s in zip(times, seen, strict=True)]
    admitted = [t for t, ok in verdicts if ok]

    for t in admitted:
        assert sum(1 for u in admitted if t - window < u <= t) <= limit
    for t, ok in verdicts:
        if not ok:
            # Refused only while the limit's worth were admitted within one window plus a bucket.
            assert sum(1 for u in admitted if t - window - bucket < u <= t) >= limit
    assert 200 < len(admitted) < len(times)


def test_keys_and_limits_count_apart_and_idle_windows_are_dropped() -> None:
    clock = HandClock()
    limiter = RateLimiter("2/minute", clock=clock)

    first = [asyncio.run(limiter.hit("key_a"))[1] is None for _ in range(3)]
    other = [asyncio.run(limiter.hit("key_b"))[1] is None for _ in range(2)]
    wider = asyncio.run(limiter.hit("key_a", "5/minute"))[1] is None
    clock.now += 200.0
    asyncio.run(limiter.hit("key_c"))

    assert (first, other, wider) == ([True, True, False], [True, True], True)
    assert list(limiter.memory.windows) == [("key_c", 2, 60.0)]


def test_without_redis_a_process_counts_alone_asks_again_a_second_later_and_refuses_past_the_limit() -> None:
    clock, clock_alone = HandClock(), HandClock()
    nobody_listens = "redis://127.0.0.1:1/0"  # port 1: the connection is refused at once
    limiter = RateLimiter("600/minute", redis_url=nobody_listens, clock=clock)
    alone = RateLimiter("600/minute", clock=clock_alone)  # a process with no Redis configured

    seen = hits(limiter, clock, [0.0, 0.5, 1.0, 61.0], "2/minute")
    seen_alone = hits(alone, clock_alone, [0.0, 0.5, 1.0, 61.0], "2/minute")
    asyncio.run(limiter.aclose())

    assert [(s["admitted"], s["X-RateLimit-Remaining"]) for s in seen] == [
        ("True", "1"),
        ("True", "0"),
        ("False", "0"),
        ("True", "1"),  # a minute later both slots are free again
    ]
    assert seen == seen_alone
    assert (limiter.unshared, limiter.redis_failures) == (4, 3)  # 0.5 s: within a second, not asked
