"""The task state machine: what each event does to a task in each state, and what it refuses."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest

from imagine_gateway.core.errors import TaskStateConflict
from imagine_gateway.core.records import Task
from imagine_gateway.core.results import ResultAsset, StoredAsset, StoredResult, UpstreamResult
from imagine_gateway.core.states import ACTIVE, TERMINAL, TaskState
from imagine_gateway.core.transitions import (
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
    open_task,
    overdue,
    transition,
)
from imagine_gateway.core.updates import Posting, TaskUpdate, TransitionRefused
from tests.tasks import new_task

CREATED = 1_000
NOW = 5_000
DEADLINE_MS = 60_000
VIDEO = ResultAsset(url="https://up/1.mp4", kind="video", mime_type="video/mp4", duration_s=6.0)
STORED = StoredResult(
    assets=(
        StoredAsset(
            "results/t/0.mp4", "video", "video/mp4", 10, "ab", 640, 360, 6.0, "results/t/0.poster.jpg"
        ),
    )
)
RELEASE = Posting("release", amount=30, reserved_delta=-30)


def task_in(state: TaskState, **changes: Any) -> Task:
    """A task of 30 reserved credits, claimed (fence 3), in ``state``."""
    new = new_task(
        "gen_1",
        account_id="acc_1",
        api_key_id="key_1",
        prompt="a fox",
        params={"duration": 6},
        price=30,
        deadline_ms=DEADLINE_MS,
        now_ms=CREATED,
    )
    claimed = {"fence": 3, "lease_owner": "w1", "lease_expires_at": NOW + 30_000, "polls": 2, "progress": 40}
    return dataclasses.replace(new.task, state=state.value, **(claimed | changes))


def released(code: str, message: str, state: str = "failed") -> dict[str, Any]:
    return {
        "updated_at": NOW,
        "state": state,
        "credits_state": "released",
        "completed_at": NOW,
        "error_code": code,
        "error_message": message,
    }


def test_a_new_task_is_queued_due_now_with_its_price_reserved() -> None:
    new = open_task(
        task_id="gen_1",
        account_id="acc_1",
        api_key_id=None,
        model="grok-imagine",
        prompt="a fox",
        params={},
        client_request_id="mine",
        dialect="xai",
        webhook_url=None,
        price=12,
        deadline_ms=DEADLINE_MS,
        now_ms=CREATED,
    )

    row = new.task.to_row()
    assert (row["state"], row["credits_state"], row["reserved_credits"], row["final_credits"]) == (
        "queued",
        "reserved",
        12,
        0,
    )
    assert (row["next_run_at"], row["deadline_at"], row["fence"], row["result"]) == (
        CREATED,
        CREATED + DEADLINE_MS,
        0,
        None,
    )
    assert new.posting == Posting("reserve", amount=-12, reserved_delta=12)


@pytest.mark.parametrize("state", [TaskState.QUEUED, TaskState.SUBMITTING])
def test_submitting_records_the_provider_before_the_call(state: TaskState) -> None:
    update = transition(task_in(state), Submitting("xai"), NOW)

    assert update.values() == {"updated_at": NOW, "state": "submitting", "provider": "xai", "started_at": NOW}
    assert (update.fenced, update.terminal, update.posting, update.announce) == (True, False, None, None)


def test_submitting_again_keeps_the_first_start_time() -> None:
    update = transition(task_in(TaskState.SUBMITTING, started_at=2_000), Submitting("relay"), NOW)

    assert update.values()["started_at"] == 2_000


def test_an_accepted_job_is_processing_with_its_first_poll_scheduled_and_the_lease_let_go() -> None:
    update = transition(task_in(TaskState.SUBMITTING), Accepted("xai", "up_1", first_poll_in_ms=2_000), NOW)

    assert update.values() == {
        "updated_at": NOW,
        "state": "processing",
        "provider": "xai",
        "upstream_id": "up_1",
        "polls": 0,
        "next_run_at": NOW + 2_000,
        "lease_owner": None,
        "lease_expires_at": None,
    }
    assert (update.posting, update.announce) == (None, "generation.processing")


@pytest.mark.parametrize("state", [TaskState.QUEUED, TaskState.SUBMITTING])
def test_a_job_an_engine_in_this_process_took_is_processing_at_once_from_queued_or_submitting(
    state: TaskState,
) -> None:
    update = transition(
        task_in(state),
        SubmittedLocally("sandbox", "sbx_1", first_poll_in_ms=2_000, credential="default"),
        NOW,
    )

    assert update.values() == {
        "updated_at": NOW,
        "state": "processing",
        "provider": "sandbox",
        "upstream_credential": "default",
        "upstream_id": "sbx_1",
        "polls": 0,
        "next_run_at": NOW + 2_000,
        "started_at": NOW,
        "lease_owner": None,
        "lease_expires_at": None,
    }
    assert (update.fenced, update.terminal, update.posting, update.announce) == (
        True,
        False,
        None,
        "generation.processing",
    )


def test_an_ambiguous_submit_is_marked_and_stays_submitting() -> None:
    update = transition(task_in(TaskState.SUBMITTING), SubmitWasAmbiguous(), NOW)

    assert update.values() == {"updated_at": NOW, "submit_ambiguous": 1}
    assert update.after().state == "submitting"


def test_a_pending_poll_schedules_the_next_one_and_announces_new_progress() -> None:
    update = transition(task_in(TaskState.PROCESSING), Progressed(55, next_poll_in_ms=5_000), NOW)

    assert update.values() == {
        "updated_at": NOW,
        "next_run_at": NOW + 5_000,
        "polls": 3,
        "progress": 55,
        "lease_owner": None,
        "lease_expires_at": None,
    }
    assert update.announce == "generation.progress"


def test_progress_never_goes_back_and_unchanged_progress_is_not_announced() -> None:
    lower = transition(task_in(TaskState.PROCESSING), Progressed(10, next_poll_in_ms=5_000), NOW)
    same = transition(task_in(TaskState.PROCESSING), Progressed(40, next_poll_in_ms=5_000), NOW)

    assert (lower.values()["progress"], lower.announce) == (40, "generation.progress")
    assert (same.values()["progress"], same.announce) == (40, None)


def test_a_finished_job_goes_to_collecting_due_now_with_the_upstreams_answer() -> None:
    event = UpstreamFinished((VIDEO,), raw={"status": "done"}, cost_ticks=7)

    update = transition(task_in(TaskState.PROCESSING, attempts=2), event, NOW)

    assert update.values() == {
        "updated_at": NOW,
        "state": "collecting",
        "next_run_at": NOW,
        "progress": 99,
        "polls": 3,
        "attempts": 0,
        "upstream_cost_ticks": 7,
        "lease_owner": None,
        "lease_expires_at": None,
        "upstream_result": {
            "assets": [
                {"url": "https://up/1.mp4", "kind": "video", "mime_type": "video/mp4", "duration_s": 6.0}
            ],
            "raw": {"status": "done"},
        },
    }
    assert (update.posting, update.announce) == (None, None)


def test_a_job_that_finished_without_a_result_fails_and_releases_the_credits() -> None:
    update = transition(task_in(TaskState.PROCESSING), UpstreamFinished(()), NOW)

    assert update.values() == released("generation_failed", "The upstream finished without a result.")
    assert (update.terminal, update.fenced, update.posting) == (True, True, RELEASE)


def test_a_collected_result_succeeds_and_captures_the_reservation() -> None:
    update = transition(task_in(TaskState.COLLECTING), Collected(STORED, retention_ms=86_400_000), NOW)

    assert update.values() == {
        "updated_at": NOW,
        "state": "succeeded",
        "credits_state": "captured",
        "completed_at": NOW,
        "expires_at": NOW + 86_400_000,
        "progress": 100,
        "final_credits": 30,
        "result": STORED.to_json(),
    }
    assert (update.terminal, update.fenced, update.from_states) == (True, True, {TaskState.COLLECTING})
    assert (update.posting, update.announce) == (Posting("capture", 0, -30), "generation.succeeded")


def test_a_collected_result_worth_less_than_reserved_captures_that_and_releases_the_rest() -> None:
    event = Collected(STORED, retention_ms=1_000, charge=12, delivered="1.5 s of video")

    update = transition(task_in(TaskState.COLLECTING), event, NOW)

    reason = "Charged 12 of the 30 credits reserved, for what was delivered (1.5 s of video); 18 released."
    assert (update.values()["final_credits"], update.values()["billing_reason"]) == (12, reason)
    assert update.values()["credits_state"] == "captured"
    assert update.postings == (Posting("capture", 0, -12), Posting("release", 18, -18))


@pytest.mark.parametrize("charge", [30, 31, 500])
def test_a_collected_result_never_captures_more_than_reserved(charge: int) -> None:
    update = transition(task_in(TaskState.COLLECTING), Collected(STORED, 1_000, charge=charge), NOW)

    assert (update.values()["final_credits"], update.postings) == (30, (Posting("capture", 0, -30),))
    assert "billing_reason" not in update.values()


def test_a_collected_result_of_no_charge_still_captures_once() -> None:
    update = transition(task_in(TaskState.COLLECTING), Collected(STORED, 1_000, charge=0), NOW)

    assert update.postings == (Posting("capture", 0, 0), Posting("release", 30, -30))
    assert (update.values()["final_credits"], update.values()["credits_state"]) == (0, "captured")


def test_submitting_records_the_label_of_the_credential_that_sends_it() -> None:
    update = transition(task_in(TaskState.QUEUED), Submitting("xai-main#1", "sha256:abc"), NOW)

    assert update.values()["upstream_credential"] == "sha256:abc"
    assert update.after().upstream_credential == "sha256:abc"


@pytest.mark.parametrize(
    ("charged", "postings", "reason"),
    [
        (
            8,
            (Posting("capture", 0, -8), Posting("release", 22, -22)),
            "8 of the 30 credits reserved were charged: why; 22 released.",
        ),
        (30, (Posting("capture", 0, -30),), "30 of the 30 credits reserved were charged: why."),
        (45, (Posting("capture", 0, -30),), "30 of the 30 credits reserved were charged: why."),
    ],
)
def test_a_failure_with_a_charge_captures_it_and_says_so(
    charged: int, postings: tuple[Posting, ...], reason: str
) -> None:
    event = Failed("content_moderated", "Blocked.", charge=Charge(charged, "why"))

    update = transition(task_in(TaskState.PROCESSING), event, NOW)

    assert update.values() == released("content_moderated", f"Blocked. {reason}") | {
        "credits_state": "captured",
        "final_credits": min(charged, 30),
        "billing_reason": reason,
    }
    assert update.postings == postings


def test_a_charge_of_nothing_is_a_plain_refund() -> None:
    update = transition(task_in(TaskState.PROCESSING), Failed("x", "y", charge=Charge(0, "why")), NOW)

    assert (update.values(), update.postings) == (released("x", "y"), (RELEASE,))


def test_a_cancel_charges_only_once_the_task_was_sent_upstream() -> None:
    charge = Charge(30, "sent")

    queued = transition(task_in(TaskState.QUEUED), Canceled(charge), NOW)
    processing = transition(task_in(TaskState.PROCESSING), Canceled(charge), NOW)

    assert (queued.postings, queued.values()["credits_state"]) == ((RELEASE,), "released")
    assert (processing.postings, processing.values()["final_credits"]) == ((Posting("capture", 0, -30),), 30)
    assert processing.values()["error_message"] == (
        "The task was canceled by the client. 30 of the 30 credits reserved were charged: sent."
    )


@pytest.mark.parametrize("state", sorted(ACTIVE))
def test_a_failure_from_any_live_state_releases_the_credits(state: TaskState) -> None:
    event = Failed("content_moderated", "Blocked.", upstream_raw={"error": "x"}, cost_ticks=3)

    update = transition(task_in(state), event, NOW)

    assert update.values() == released("content_moderated", "Blocked.") | {
        "upstream_result": {"error": "x"},
        "upstream_cost_ticks": 3,
    }
    assert (update.fenced, update.from_states, update.posting) == (True, ACTIVE, RELEASE)
    assert update.announce == "generation.failed"


def test_a_failure_message_is_cut_to_a_thousand_characters() -> None:
    update = transition(task_in(TaskState.QUEUED), Failed("generation_failed", "x" * 5000), NOW)

    assert update.values()["error_message"] == "x" * 1000


@pytest.mark.parametrize("state", sorted(ACTIVE))
def test_a_cancel_ends_any_live_task_unfenced_and_releases_the_credits(state: TaskState) -> None:
    update = transition(task_in(state), Canceled(), NOW)

    assert update.values() == released("canceled", "The task was canceled by the client.", "canceled")
    assert (update.fenced, update.posting, update.announce) == (False, RELEASE, "generation.canceled")


@pytest.mark.parametrize("state", [TaskState.QUEUED, TaskState.PROCESSING])
def test_the_deadline_fails_a_waiting_or_running_task(state: TaskState) -> None:
    task = task_in(state)
    late = CREATED + DEADLINE_MS

    update = transition(task, DeadlinePassed(60.0), late)

    assert overdue(task, late) and not overdue(task, late - 1)
    assert update.values() == released("upstream_timeout", "The upstream did not finish within 60 s.") | {
        "updated_at": late,
        "completed_at": late,
    }
    assert update.posting == RELEASE


@pytest.mark.parametrize(
    ("event", "expected"),
    [
        (Rescheduled(3_000), {"attempts": 1}),
        (Rescheduled(3_000, count="polls"), {"polls": 3}),
        (Rescheduled(3_000, requeue=True), {"attempts": 1, "state": "queued"}),
    ],
)
def test_a_reschedule_puts_the_step_off_and_counts_it(event: Rescheduled, expected: dict[str, Any]) -> None:
    update = transition(task_in(TaskState.SUBMITTING), event, NOW)

    assert update.values() == {
        "updated_at": NOW,
        "next_run_at": NOW + 3_000,
        "lease_owner": None,
        "lease_expires_at": None,
        **expected,
    }
    assert (update.terminal, update.posting) == (False, None)


def test_an_expired_result_keeps_its_metadata_flagged_expired() -> None:
    update = transition(task_in(TaskState.SUCCEEDED, result=STORED), ResultExpired(), NOW)

    assert update.values() == {"updated_at": NOW, "result": {**STORED.to_json(), "expired": True}}
    assert (update.fenced, update.from_states, update.posting) == (False, {TaskState.SUCCEEDED}, None)


def test_an_ending_update_leaves_the_task_unleased_unscheduled_and_fenced_anew() -> None:
    after = transition(task_in(TaskState.PROCESSING), Failed("generation_failed", "x"), NOW).after()

    assert (after.state, after.credits_state, after.fence) == ("failed", "released", 4)
    assert (after.lease_owner, after.lease_expires_at, after.next_run_at) == (None, None, None)


LIVE_ONLY: list[Event] = [Failed("generation_failed", "x"), Rescheduled(1_000)]
REFUSED: list[tuple[Event, set[TaskState]]] = [
    (Submitting("xai"), set(TaskState) - {TaskState.QUEUED, TaskState.SUBMITTING}),
    (Accepted("xai", "up_1", 2_000), set(TaskState) - {TaskState.SUBMITTING}),
    (SubmittedLocally("sandbox", "sbx_1", 2_000), set(TaskState) - {TaskState.QUEUED, TaskState.SUBMITTING}),
    (SubmitWasAmbiguous(), set(TaskState) - {TaskState.SUBMITTING}),
    (Progressed(50, 5_000), set(TaskState) - {TaskState.PROCESSING}),
    (UpstreamFinished((VIDEO,)), set(TaskState) - {TaskState.PROCESSING}),
    (Collected(STORED, 1_000), set(TaskState) - {TaskState.COLLECTING}),
    (DeadlinePassed(60.0), set(TaskState) - {TaskState.QUEUED, TaskState.PROCESSING}),
    (ResultExpired(), set(TaskState) - {TaskState.SUCCEEDED}),
    *((event, set(TERMINAL)) for event in LIVE_ONLY),
]


@pytest.mark.parametrize(
    ("event", "state"),
    [(event, state) for event, states in REFUSED for state in sorted(states)],
    ids=lambda value: type(value).__name__ if not isinstance(value, TaskState) else value.value,
)
def test_an_event_that_does_not_apply_to_the_state_is_refused(event: Event, state: TaskState) -> None:
    late = CREATED + DEADLINE_MS  # past the deadline, so only the state decides

    with pytest.raises(TransitionRefused) as refused:
        transition(task_in(state, result=STORED), event, late)

    assert (refused.value.task_id, refused.value.state, refused.value.event) == (
        "gen_1",
        state.value,
        type(event).__name__,
    )
    assert refused.value.message == f"Task gen_1 cannot take {type(event).__name__} while {state.value}."


@pytest.mark.parametrize("state", sorted(TERMINAL))
def test_a_cancel_of_an_ended_task_is_a_state_conflict_that_says_which_tasks_can_be(state: TaskState) -> None:
    with pytest.raises(TaskStateConflict) as refused:
        transition(task_in(state), Canceled(), NOW)

    assert isinstance(refused.value, TransitionRefused)
    assert (refused.value.code, refused.value.message) == (
        "task_state_conflict",
        f"Task gen_1 is already {state.public}; only queued or processing tasks can be canceled.",
    )


@pytest.mark.parametrize("state", [TaskState.QUEUED, TaskState.PROCESSING])
def test_the_deadline_is_refused_before_it_has_passed(state: TaskState) -> None:
    with pytest.raises(TransitionRefused) as refused:
        transition(task_in(state), DeadlinePassed(60.0), CREATED + DEADLINE_MS - 1)

    assert refused.value.message == "Task gen_1 cannot take DeadlinePassed before its deadline."


def test_a_result_already_expired_is_not_expired_again() -> None:
    expired = StoredResult(assets=STORED.assets, expired=True)

    with pytest.raises(TransitionRefused) as refused:
        transition(task_in(TaskState.SUCCEEDED, result=expired), ResultExpired(), NOW)

    assert refused.value.message == "Task gen_1 cannot take ResultExpired with its result already expired."


def test_every_event_has_a_transition() -> None:
    tested = {type(event) for event, _ in REFUSED} | {Canceled}

    assert tested == set(Event.__args__)  # type: ignore[attr-defined]


def test_an_update_is_made_for_the_task_it_was_given() -> None:
    task = task_in(TaskState.PROCESSING)

    update = transition(task, Progressed(50, 5_000), NOW)

    assert isinstance(update, TaskUpdate) and update.task is task
    assert update.after() == dataclasses.replace(
        task,
        updated_at=NOW,
        next_run_at=NOW + 5_000,
        polls=3,
        progress=50,
        lease_owner=None,
        lease_expires_at=None,
    )


def test_upstream_results_read_back_from_either_stored_shape() -> None:
    done = UpstreamResult(raw={"id": "x"}, assets=(VIDEO,))

    assert UpstreamResult.from_json(done.to_json() or {}) == done
    assert UpstreamResult(raw={"error": "x"}).to_json() == {"error": "x"}
    assert UpstreamResult.from_json({"error": "x"}) == UpstreamResult(raw={"error": "x"})
    assert UpstreamResult().to_json() is None
