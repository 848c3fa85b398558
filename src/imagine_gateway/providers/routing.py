"""Routing policy: which provider a new task goes to.

Order: providers that can serve the exact params, whose breaker is closed and whose submit rate
allows one more, by ``priority`` (lower first); among equal priorities a weighted random order, so
traffic splits by ``weight`` while each task still has an ordered list to fail over along.
"""

from __future__ import annotations

import random
import re
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from imagine_gateway.providers.base import Provider
from imagine_gateway.providers.health import Breaker

_UNITS_S = {"second": 1.0, "minute": 60.0, "hour": 3600.0}
_RATE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*/\s*(\d+\s*)?(second|minute|hour)s?\s*$")


def parse_rate(text: str) -> tuple[float, float]:
    """``"10/second"``, ``"60/minute"``, ``"5/10 seconds"`` -> (requests, per_seconds)."""
    match = _RATE.match(text) if isinstance(text, str) else None
    if match is None:
        raise ValueError(f"expected '<n>/second|minute|hour', got {text!r}")
    count = float(match.group(1))
    per_s = float(match.group(2) or 1) * _UNITS_S[match.group(3)]
    if count <= 0:
        raise ValueError(f"the count must be positive, got {text!r}")
    return count, per_s


@dataclass
class TokenBucket:
    """A submit-rate limit: bursts up to ``capacity``, refilled at ``capacity / per_s`` per second."""

    capacity: float
    per_s: float
    now_s: Callable[[], float] = time.monotonic
    tokens: float = field(init=False)
    updated_s: float = field(init=False)

    def __post_init__(self) -> None:
        self.tokens = self.capacity
        self.updated_s = self.now_s()

    def _refill(self) -> None:
        now = self.now_s()
        self.tokens = min(self.capacity, self.tokens + (now - self.updated_s) * self.capacity / self.per_s)
        self.updated_s = now

    def available(self) -> bool:
        self._refill()
        return self.tokens >= 1.0

    def take(self) -> bool:
        self._refill()
        if self.tokens < 1.0:
            return False
        self.tokens -= 1.0
        return True


@dataclass
class Lane:
    """One provider (one credential) with its routing policy and health."""

    provider: Provider
    priority: int
    weight: float
    breaker: Breaker
    bucket: TokenBucket | None = None

    @property
    def name(self) -> str:
        return self.provider.name

    def open_for_new_work(self) -> bool:
        return self.breaker.allows_new_work() and (self.bucket is None or self.bucket.available())


def order(lanes: Sequence[Lane], rng: random.Random) -> list[Lane]:
    """By priority, then a weighted random order within each priority."""
    keyed = []
    for lane in lanes:
        # Efraimidis-Spirakis: sorting by u**(1/w) draws a weighted order without replacement.
        draw = rng.random() ** (1.0 / lane.weight)
        keyed.append((lane.priority, -draw, lane))
    keyed.sort(key=lambda item: (item[0], item[1]))
    return [lane for _, _, lane in keyed]
