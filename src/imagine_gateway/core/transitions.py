"""The task state machine: ``transition(task, event, now_ms)`` decides the update an event makes.

    queued ─▶ submitting ─▶ processing ─▶ collecting ─▶ succeeded
       │           │             │             │
       └───────────┴─────────────┴─────────────┴──▶ failed | canceled   (credits released)

A success captures what was delivered (never more than the reservation) and releases the rest in
the same update; a failure or a cancel releases the reservation, or captures what a policy charges
(``Charge``: a cancel after submission, a moderation block, an ambiguous submit) and releases the
rest. The deadline fails a task that waits (queued) or runs (processing) too long. ``Rescheduled``
puts a step off (a retry, or back to ``queued`` when no provider took it). An event that does not
apply to the task's state raises ``TransitionRefused`` and changes nothing.
Pure: the caller supplies the time.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

from imagine_gateway.core.events import (
    Accepted,
    Canceled,
    Charge,
    Collected,
    DeadlinePassed,
    Event,
    Failed,
    Progressed,
    Rescheduled,
    ResultExpired,
    SubmittedLocally,
    Submitting,
    SubmitWasAmbiguous,
    UpstreamFinished,
)
from imagine_gateway.core.records import Task
from imagine_gateway.core.results import StoredResult, UpstreamResult
from imagine_gateway.core.states import ACTIVE, CreditsState, TaskState
from imagine_gateway.core.updates import Posting, TaskUpdate, TransitionRefused

ERROR_MESSAGE_MAX = 1000
__all__ = [
    "Accepted",
    "Canceled",
    "Charge",
    "Collected",
    "DeadlinePassed",
    "Event",
    "Failed",
    "NewTask",
    "Progressed",
    "Rescheduled",
    "ResultExpired",
    "SubmitWasAmbiguous",
    "SubmittedLocally",
    "Submitting",
    "UpstreamFinished",
    "open_task",
    "overdue",
    "transition",
]


_ALL_ACTIVE = frozenset(ACTIVE)
_SUBMITTABLE = frozenset({TaskState.QUEUED, TaskState.SUBMITTING})
_SUBMITTING = frozenset({TaskState.SUBMITTING})
_PROCESSING = frozenset({TaskState.PROCESSING})
_COLLECTING = frozenset({TaskState.COLLECTING})
_SUCCEEDED = frozenset({TaskState.SUCCEEDED})
_WAITING_OR_RUNNING = frozenset({TaskState.QUEUED, TaskState.PROCESSING})


@dataclass(frozen=True)
class NewTask:
    """A task to insert, and the reservation of its price that goes with it."""

    task: Task
    posting: Posting


def open_task(
    *,
    task_id: str,
    account_id: str,
    api_key_id: str | None,
    model: str,
    prompt: str,
    params: dict[str, Any],
    client_request_id: str | None,
    dialect: str,
    webhook_url: str | None,
    price: int,
    deadline_ms: int,
    now_ms: int,
) -> NewTask:
    """A new queued task, due now, with ``price`` reserved."""
    task = Task.make(
        id=task_id,
        account_id=account_id,
        api_key_id=api_key_id,
        model=model,
        prompt=prompt,
        params=params,
        client_request_id=client_request_id,
        dialect=dialect,
        webhook_url=webhook_url,
        state=TaskState.QUEUED.value,
        progress=0,
        reserved_credits=price,
        final_credits=0,
        credits_state=CreditsState.RESERVED.value,
        result=None,
        error_code=None,
        error_message=None,
        provider=None,
        upstream_id=None,
        upstream_result=None,
        upstream_cost_ticks=None,
        submit_ambiguous=0,
        next_run_at=now_ms,
        attempts=0,
        polls=0,
        lease_owner=None,
        lease_expires_at=None,
        fence=0,
        deadline_at=now_ms + deadline_ms,
        created_at=now_ms,
        updated_at=now_ms,
        started_at=None,
        completed_at=None,
        expires_at=None,
        upstream_credential=None,
        billing_reason=None,
    )
    return NewTask(task=task, posting=Posting("reserve", amount=-price, reserved_delta=price))


def overdue(task: Task, now_ms: int) -> bool:
    """Whether the deadline ends this task now (only waiting and running tasks have one)."""
    return now_ms >= task.deadline_at and task.state in _WAITING_OR_RUNNING


def transition(task: Task, event: Event, now_ms: int) -> TaskUpdate:
    """The update ``event`` makes to ``task`` at ``now_ms``; raises ``TransitionRefused``."""
    # A table rather than a match: the worker runs this once per poll.
    return _TRANSITIONS[type(event)](task, event, now_ms)


def _submitting(task: Task, event: Submitting, now_ms: int) -> TaskUpdate:
    _require(task, event, _SUBMITTABLE)
    return TaskUpdate(
        task,
        _ALL_ACTIVE,
        now_ms,
        state=TaskState.SUBMITTING,
        provider=event.provider,
        upstream_credential=event.credential,
        started_at=task.started_at or now_ms,
    )


def _accepted(task: Task, event: Accepted, now_ms: int) -> TaskUpdate:
    _require(task, event, _SUBMITTING)
    return _at_engine(task, event, now_ms)


def _submitted_locally(task: Task, event: SubmittedLocally, now_ms: int) -> TaskUpdate:
    # From submitting too: a remote provider that was out may have been tried first. What a
    # ``Submitting`` record would have said (credential, start) goes with it.
    _require(task, event, _SUBMITTABLE)
    return _at_engine(task, event, now_ms, credential=event.credential, started_at=task.started_at or now_ms)


def _at_engine(
    task: Task,
    event: Accepted | SubmittedLocally,
    now_ms: int,
    *,
    credential: str | None = None,
    started_at: int | None = None,
) -> TaskUpdate:
    """The job is at its engine as ``event.upstream_id``: processing, first poll scheduled, lease let go."""
    return TaskUpdate(
        task,
        _ALL_ACTIVE,
        now_ms,
        state=TaskState.PROCESSING,
        provider=event.provider,
        upstream_credential=credential,
        upstream_id=event.upstream_id,
        polls=0,
        next_run_at=now_ms + event.first_poll_in_ms,
        started_at=started_at,
        release_lease=True,
        announce="generation.processing",
    )


def _ambiguous(task: Task, event: SubmitWasAmbiguous, now_ms: int) -> TaskUpdate:
    _require(task, event, _SUBMITTING)
    return TaskUpdate(task, _ALL_ACTIVE, now_ms, submit_ambiguous=True)


def _progressed(task: Task, event: Progressed, now_ms: int) -> TaskUpdate:
    _require(task, event, _PROCESSING)
    return TaskUpdate(
        task,
        _ALL_ACTIVE,
        now_ms,
        next_run_at=now_ms + event.next_poll_in_ms,
        release_lease=True,
        polls=task.polls + 1,
        progress=max(task.progress, event.progress),
        announce="generation.progress" if event.progress != task.progress else None,
    )


def _upstream_finished(task: Task, event: UpstreamFinished, now_ms: int) -> TaskUpdate:
    _require(task, event, _PROCESSING)
    if not event.assets:
        return _failed(task, Failed("generation_failed", "The upstream finished without a result."), now_ms)
    return TaskUpdate(
        task,
        _ALL_ACTIVE,
        now_ms,
        state=TaskState.COLLECTING,
        progress=99,
        polls=task.polls + 1,
        upstream_result=UpstreamResult(raw=event.raw, assets=event.assets),
        upstream_cost_ticks=event.cost_ticks,
        attempts=0,
        next_run_at=now_ms,
        release_lease=True,
    )


def _collected(task: Task, event: Collected, now_ms: int) -> TaskUpdate:
    _require(task, event, _COLLECTING)
    reserved = task.reserved_credits
    charged = reserved if event.charge is None else max(0, min(event.charge, reserved))
    rest = reserved - charged
    reason = None
    if rest:
        what = f" ({event.delivered})" if event.delivered else ""
        reason = (
            f"Charged {charged} of the {reserved} credits reserved, for what was delivered{what}; "
            f"{rest} released."
        )
    return TaskUpdate(
        task,
        _COLLECTING,
        now_ms,
        state=TaskState.SUCCEEDED,
        credits_state=CreditsState.CAPTURED,
        final_credits=charged,
        result=event.result,
        progress=100,
        completed_at=now_ms,
        expires_at=now_ms + event.retention_ms,
        posting=Posting("capture", amount=0, reserved_delta=-charged),
        release=Posting("release", amount=rest, reserved_delta=-rest) if rest else None,
        billing_reason=reason,
        announce="generation.succeeded",
    )


def _failed_event(task: Task, event: Failed, now_ms: int) -> TaskUpdate:
    _require(task, event, _ALL_ACTIVE)
    return _failed(task, event, now_ms)


def _canceled(task: Task, event: Canceled, now_ms: int) -> TaskUpdate:
    state = task.task_state
    if state.is_terminal:
        raise TransitionRefused(
            f"Task {task.id} is already {state.public}; only queued or processing tasks can be canceled.",
            task_id=task.id,
            state=task.state,
            event="Canceled",
        )
    # Before submission nothing was sent upstream: a queued task is always refunded in full.
    charge = event.charge if state is not TaskState.QUEUED else None
    message = "The task was canceled by the client."
    return _released(task, TaskState.CANCELED, "canceled", message, now_ms, charge=charge)


def _deadline_passed(task: Task, event: DeadlinePassed, now_ms: int) -> TaskUpdate:
    if not overdue(task, now_ms):
        _refuse(task, event, "before its deadline" if task.state in _WAITING_OR_RUNNING else None)
    message = f"The upstream did not finish within {event.deadline_s:g} s."
    return _failed(task, Failed("upstream_timeout", message), now_ms)


def _rescheduled(task: Task, event: Rescheduled, now_ms: int) -> TaskUpdate:
    _require(task, event, _ALL_ACTIVE)
    return TaskUpdate(
        task,
        _ALL_ACTIVE,
        now_ms,
        state=TaskState.QUEUED if event.requeue else None,
        next_run_at=now_ms + event.delay_ms,
        release_lease=True,
        attempts=task.attempts + 1 if event.count == "attempts" else None,
        polls=task.polls + 1 if event.count == "polls" else None,
    )


def _result_expired(task: Task, event: ResultExpired, now_ms: int) -> TaskUpdate:
    _require(task, event, _SUCCEEDED)
    if task.result is None or task.result.expired:
        _refuse(task, event, "with its result already expired")
    assert task.result is not None
    return TaskUpdate(
        task, _SUCCEEDED, now_ms, fenced=False, result=StoredResult(assets=task.result.assets, expired=True)
    )


_TRANSITIONS: dict[type[Any], Callable[[Task, Any, int], TaskUpdate]] = {
    Submitting: _submitting,
    Accepted: _accepted,
    SubmittedLocally: _submitted_locally,
    SubmitWasAmbiguous: _ambiguous,
    Progressed: _progressed,
    UpstreamFinished: _upstream_finished,
    Collected: _collected,
    Failed: _failed_event,
    Canceled: _canceled,
    DeadlinePassed: _deadline_passed,
    Rescheduled: _rescheduled,
    ResultExpired: _result_expired,
}


def _failed(task: Task, event: Failed, now_ms: int) -> TaskUpdate:
    upstream = UpstreamResult(raw=event.upstream_raw) if event.upstream_raw else None
    update = _released(
        task, TaskState.FAILED, event.code, event.message, now_ms, fenced=event.fenced, charge=event.charge
    )
    return replace(update, upstream_result=upstream, upstream_cost_ticks=event.cost_ticks)


def _released(
    task: Task,
    state: TaskState,
    code: str,
    message: str,
    now_ms: int,
    *,
    fenced: bool = False,
    charge: Charge | None = None,
) -> TaskUpdate:
    """An ending without a result: the reservation goes back to the balance, but for what ``charge``
    keeps (captured, and said in the error message and the billing reason)."""
    reserved = task.reserved_credits
    charged = 0 if charge is None else max(0, min(charge.credits, reserved))
    rest = reserved - charged
    reason = None
    if charge is not None and charged:
        released = f"; {rest} released" if rest else ""
        reason = f"{charged} of the {reserved} credits reserved were charged: {charge.reason}{released}."
        message = f"{message} {reason}"
    return TaskUpdate(
        task,
        _ALL_ACTIVE,
        now_ms,
        fenced=fenced,
        state=state,
        credits_state=CreditsState.CAPTURED if charged else CreditsState.RELEASED,
        final_credits=charged if charged else None,
        error_code=code,
        error_message=message[:ERROR_MESSAGE_MAX],
        completed_at=now_ms,
        posting=Posting("capture", amount=0, reserved_delta=-charged)
        if charged
        else Posting("release", amount=rest, reserved_delta=-rest),
        release=Posting("release", amount=rest, reserved_delta=-rest) if charged and rest else None,
        billing_reason=reason,
        announce=f"generation.{state.value}",
    )


def _require(task: Task, event: Event, states: frozenset[TaskState]) -> None:
    if task.state not in states:  # the state's word: a StrEnum member hashes and equals as its word
        _refuse(task, event, None)


def _refuse(task: Task, event: Event, why: str | None) -> None:
    name = type(event).__name__
    raise TransitionRefused(
        f"Task {task.id} cannot take {name} {why or f'while {task.state}'}.",
        task_id=task.id,
        state=task.state,
        event=name,
    )
