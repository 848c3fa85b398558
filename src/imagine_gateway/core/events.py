"""The events of the task state machine: what a step, the API or the sweeper saw happen to a task.

``core.transitions.transition`` turns each into the update it makes. An ending may carry a
``Charge``: what it still costs the customer (a policy's charge on cancel after submission,
moderation or an ambiguous submit); a success may carry the price of what was delivered.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from imagine_gateway.core.results import ResultAsset, StoredResult


@dataclass(frozen=True)
class Charge:
    """What an ending without a result still costs: ``credits`` (at most the reservation) and why."""

    credits: int
    reason: str


@dataclass(frozen=True)
class Submitting:
    """The worker is about to send the job to ``provider`` (recorded first, so a crash reconciles);
    ``credential`` labels the provider's key that sends it (never the key itself)."""

    provider: str
    credential: str | None = None


@dataclass(frozen=True)
class Accepted:
    """The upstream holds the job as ``upstream_id`` (submitted, or found again by a reconcile)."""

    provider: str
    upstream_id: str
    first_poll_in_ms: int


@dataclass(frozen=True)
class SubmittedLocally:
    """An engine inside this process took the job as ``upstream_id``. Nothing left the process, so
    no ``Submitting`` record went first: after a crash the task is still queued, and running it
    again is the whole recovery (there is no paid job to find)."""

    provider: str
    upstream_id: str
    first_poll_in_ms: int
    credential: str | None = None


@dataclass(frozen=True)
class SubmitWasAmbiguous:
    """The request may have reached the upstream: it is reconciled, never resubmitted."""


@dataclass(frozen=True)
class Progressed:
    """A poll found the job still running."""

    progress: int
    next_poll_in_ms: int


@dataclass(frozen=True)
class UpstreamFinished:
    """A poll found the job done; its outputs are to be collected."""

    assets: tuple[ResultAsset, ...]
    raw: dict[str, Any] = field(default_factory=dict)
    cost_ticks: int | None = None


@dataclass(frozen=True)
class Collected:
    """The outputs are in our storage; kept for ``retention_ms``.

    ``charge``: the price of what was delivered (None: the reservation); the capture is that, never
    more than reserved, and the rest is released. ``delivered`` words it for the task's billing.
    """

    result: StoredResult
    retention_ms: int
    charge: int | None = None
    delivered: str | None = None


@dataclass(frozen=True)
class Failed:
    """The task cannot succeed. ``fenced=False`` for an ending decided outside the claim."""

    code: str
    message: str
    upstream_raw: dict[str, Any] | None = None
    cost_ticks: int | None = None
    fenced: bool = True
    charge: Charge | None = None


@dataclass(frozen=True)
class Canceled:
    """The client canceled the task; ``charge`` applies only once it was sent upstream (a queued
    task is always refunded in full)."""

    charge: Charge | None = None


@dataclass(frozen=True)
class DeadlinePassed:
    """The task waited or ran past its deadline (``deadline_s`` after its creation)."""

    deadline_s: float


@dataclass(frozen=True)
class Rescheduled:
    """Run the step again in ``delay_ms``, counting one more attempt (or poll); ``requeue`` makes the
    task ``queued`` again (no provider took it)."""

    delay_ms: int
    count: Literal["attempts", "polls"] = "attempts"
    requeue: bool = False


@dataclass(frozen=True)
class ResultExpired:
    """The result's files are gone (retention, or deleted); the task keeps its metadata."""


Event = (
    Submitting
    | Accepted
    | SubmittedLocally
    | SubmitWasAmbiguous
    | Progressed
    | UpstreamFinished
    | Collected
    | Failed
    | Canceled
    | DeadlinePassed
    | Rescheduled
    | ResultExpired
)
