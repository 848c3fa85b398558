"""Slots for one kind of step, claimed in batches.

The worker runs three kinds of step with different costs: polls of jobs at an upstream (cheap, and
late ones make results late), new submissions (each one a request the upstream bills) and
collects (CPU: download, probe, poster). Each kind has its own lane, so a burst of one never
takes the slots of another. A lane is refilled only once it has drained to ``refill_at``: polls at
once (a free slot is a due poll waiting), submissions and collects at half a lane, so one claim
serves many finished steps.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class StepLane:
    """At most ``size`` steps at once; claimed again once ``refill_at`` or fewer run."""

    size: int
    refill_at: int
    running: int = 0
    waiting: bool = False  # a claim found no room: the step that makes room wakes the claim loop

    def room(self, limit: int | None = None) -> int:
        """How many steps to claim into the lane now (at most ``limit``); 0 until it has drained."""
        self.waiting = self.running > self.refill_at
        if self.waiting:
            return 0
        room = self.size - self.running
        return room if limit is None else max(0, min(room, limit))

    def started(self, count: int) -> None:
        self.running += count

    def finished(self) -> bool:
        """One step ended; True when the claim loop should look for more work now."""
        self.running -= 1
        if self.waiting and self.running <= self.refill_at:
            self.waiting = False
            return True
        return False
