"""What a transition of the task state machine decides: the change of one task row and the ledger
postings that go with it (one, or a capture and the release of the rest of a reservation), applied
by the store in one transaction (or not at all)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from imagine_gateway.core.errors import TaskStateConflict
from imagine_gateway.core.records import Task
from imagine_gateway.core.results import StoredResult, UpstreamResult
from imagine_gateway.core.states import CreditsState, TaskState

PostingKind = Literal["reserve", "capture", "release"]


@dataclass(frozen=True)
class Posting:
    """A balance change a transition implies: ``amount`` to the balance, ``reserved_delta`` to reserved."""

    kind: PostingKind
    amount: int
    reserved_delta: int


class TransitionRefused(TaskStateConflict):
    """The event does not apply to the task in its state (cancel of an ended task, success from queued)."""

    def __init__(self, message: str, *, task_id: str, state: str, event: str) -> None:
        super().__init__(message)
        self.task_id = task_id
        self.state = state
        self.event = event


# The plain columns of an update, written when set (None leaves the column as it is).
_PLAIN = (
    "provider",
    "upstream_id",
    "started_at",
    "completed_at",
    "expires_at",
    "next_run_at",
    "progress",
    "polls",
    "attempts",
    "final_credits",
    "error_code",
    "error_message",
    "upstream_cost_ticks",
    "upstream_credential",
    "billing_reason",
)


@dataclass(slots=True)
class TaskUpdate:
    """One change of one task, as decided from the task it was made for.

    The store writes it only while the task is in one of ``from_states`` (and, when ``fenced``,
    still holds ``task.fence``); a terminal update also needs the credits still reserved, and
    clears the schedule and the lease. ``announce`` is the event published once it took effect.
    Not frozen, only because a frozen record of this many fields costs several times as much to
    make, and the worker makes one per poll; nothing changes one once made.
    """

    task: Task
    from_states: frozenset[TaskState]
    updated_at: int
    fenced: bool = True
    state: TaskState | None = None
    credits_state: CreditsState | None = None
    provider: str | None = None
    upstream_id: str | None = None
    started_at: int | None = None
    completed_at: int | None = None
    expires_at: int | None = None
    next_run_at: int | None = None
    release_lease: bool = False
    progress: int | None = None
    polls: int | None = None
    attempts: int | None = None
    final_credits: int | None = None
    error_code: str | None = None
    error_message: str | None = None
    submit_ambiguous: bool = False
    upstream_result: UpstreamResult | None = None
    upstream_cost_ticks: int | None = None
    upstream_credential: str | None = None
    billing_reason: str | None = None
    result: StoredResult | None = None
    posting: Posting | None = None
    # The rest of a reservation given back beside a capture (settled to less than reserved).
    release: Posting | None = None
    announce: str | None = None

    @property
    def postings(self) -> tuple[Posting, ...]:
        """Every ledger row this update posts, in order (written with it, in its transaction)."""
        return tuple(p for p in (self.posting, self.release) if p is not None)

    @property
    def terminal(self) -> bool:
        """Whether the task ends here (the store then uses its at-most-once finish)."""
        return self.state is not None and self.state.is_terminal

    def values(self) -> dict[str, Any]:
        """The columns this update writes, as stored (states as their words, results as JSON)."""
        values: dict[str, Any] = {"updated_at": self.updated_at}
        if self.state is not None:
            values["state"] = self.state.value
        if self.credits_state is not None:
            values["credits_state"] = self.credits_state.value
        for name in _PLAIN:
            value = getattr(self, name)
            if value is not None:
                values[name] = value
        if self.release_lease:
            values["lease_owner"] = None
            values["lease_expires_at"] = None
        if self.submit_ambiguous:
            values["submit_ambiguous"] = 1
        if self.upstream_result is not None:
            values["upstream_result"] = self.upstream_result.to_json()
        if self.result is not None:
            values["result"] = self.result.to_json()
        return values

    def after(self) -> Task:
        """The task as it is once this update took effect."""
        changes: dict[str, Any] = {"updated_at": self.updated_at}
        if self.state is not None:
            changes["state"] = self.state.value
        if self.credits_state is not None:
            changes["credits_state"] = self.credits_state.value
        for name in _PLAIN:
            value = getattr(self, name)
            if value is not None:
                changes[name] = value
        if self.release_lease or self.terminal:
            changes["lease_owner"] = changes["lease_expires_at"] = None
        if self.terminal:
            changes["next_run_at"] = None
            changes["fence"] = self.task.fence + 1
        if self.submit_ambiguous:
            changes["submit_ambiguous"] = 1
        for name in ("upstream_result", "result"):
            if getattr(self, name) is not None:
                changes[name] = getattr(self, name)
        return self.task.evolve(**changes)
