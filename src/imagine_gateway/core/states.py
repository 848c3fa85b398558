"""Task states: the internal state machine and its public projection."""

from __future__ import annotations

from enum import StrEnum


class TaskState(StrEnum):
    QUEUED = "queued"
    SUBMITTING = "submitting"
    PROCESSING = "processing"
    COLLECTING = "collecting"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELED = "canceled"

    @property
    def is_terminal(self) -> bool:
        return self in TERMINAL

    @property
    def public(self) -> str:
        """The native API's status word (Rivya: queued, processing, succeeded, failed, + canceled)."""
        return _PUBLIC[self]


TERMINAL = frozenset({TaskState.SUCCEEDED, TaskState.FAILED, TaskState.CANCELED})
ACTIVE = frozenset(TaskState) - TERMINAL

_PUBLIC = {
    TaskState.QUEUED: "queued",
    TaskState.SUBMITTING: "processing",
    TaskState.PROCESSING: "processing",
    TaskState.COLLECTING: "processing",
    TaskState.SUCCEEDED: "succeeded",
    TaskState.FAILED: "failed",
    TaskState.CANCELED: "canceled",
}

PUBLIC_STATUSES = ("queued", "processing", "succeeded", "failed", "canceled")


def public_status(state: str) -> str:
    """The public status word of a stored state (a plain string, as a row holds it)."""
    return _PUBLIC[state]  # type: ignore[index]  # a StrEnum member hashes and equals its value


def is_terminal_state(state: str) -> bool:
    """Whether a stored state (a plain string) is an end state."""
    return state in TERMINAL


def internal_states_for(public: str) -> list[TaskState]:
    """Internal states shown as one public status (for list filters)."""
    return [s for s in TaskState if s.public == public]


class CreditsState(StrEnum):
    """Where a task's reservation stands; each move happens at most once."""

    RESERVED = "reserved"
    CAPTURED = "captured"
    RELEASED = "released"
