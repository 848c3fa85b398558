"""Provider health: a circuit breaker per provider, and the upstream's own Retry-After.

    closed ──(failure_threshold consecutive failures)──> open ──(cool_down_s)──> probe due
      ^                                                   ^                          │
      └──────────────────── probe succeeds ───────────────┴──── probe fails ─────────┘

An open provider gets no new tasks; tasks already sent to it keep polling it (their job lives
there). A probe is a cheap request the provider knows how to make (``Provider.probe``); only a
probe closes the breaker, so one lucky poll does not send a flood of new work to a sick upstream.

A provider whose key the upstream refuses is *misconfigured*: out at once (no threshold), with the
upstream's reason kept for ``/readyz``; it is probed like an open one and back when a probe passes.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

State = Literal["closed", "open", "probing"]


@dataclass
class Breaker:
    """The health of one provider; ``now_s`` is a monotonic clock (injectable for tests)."""

    failure_threshold: int
    cool_down_s: float
    now_s: Callable[[], float] = time.monotonic
    state: State = "closed"
    failures: int = 0
    opened_at_s: float = 0.0
    # The upstream asked us to wait (429 Retry-After): no new submits before this.
    blocked_until_s: float = 0.0
    # Why the upstream refuses our configuration (its own message, secrets masked); None when it does not.
    misconfigured: str | None = None
    # Since when (``now_s``) no new work may go here: set on leaving ``closed``, cleared on return.
    out_since_s: float | None = None

    def allows_new_work(self) -> bool:
        """True when new tasks may be sent to this provider now."""
        return self.state == "closed" and self.now_s() >= self.blocked_until_s

    def record_success(self) -> None:
        if self.state == "closed":
            self.failures = 0

    def record_failure(self, *, retry_after_s: float | None = None) -> None:
        now = self.now_s()
        if retry_after_s is not None and retry_after_s > 0:
            self.blocked_until_s = max(self.blocked_until_s, now + retry_after_s)
        if self.state != "closed":
            return
        self.failures += 1
        if self.failures >= self.failure_threshold:
            self._move("open")
            self.opened_at_s = now

    def mark_misconfigured(self, reason: str) -> bool:
        """Out now, with ``reason``; True when it was not known to be misconfigured before."""
        first = self.misconfigured is None
        self.misconfigured = reason
        self.opened_at_s = self.now_s()
        self._move("open")
        return first

    def probe_due(self) -> bool:
        """True once an open breaker has cooled down; the caller then probes and reports back."""
        if self.state == "open" and self.now_s() - self.opened_at_s >= self.cool_down_s:
            self._move("probing")
            return True
        return False

    def probe_result(self, ok: bool) -> None:
        if self.state != "probing":
            return
        if ok:
            self.failures = 0
            self.misconfigured = None
            self._move("closed")
        else:
            self.opened_at_s = self.now_s()
            self._move("open")

    def out_for_s(self) -> float | None:
        """How long the provider has been out (open, probing, misconfigured); None while closed."""
        return None if self.out_since_s is None else self.now_s() - self.out_since_s

    def _move(self, state: State) -> None:
        self.state = state
        if state == "closed":
            self.out_since_s = None
        elif self.out_since_s is None:
            self.out_since_s = self.now_s()
