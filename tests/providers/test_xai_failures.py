"""How the xai provider and the worker meet each way an upstream can fail."""

from __future__ import annotations

import time
from collections.abc import Callable

import pytest

from tests.conftest import Gateway
from tests.providers.conftest import StartMock, balance, create, task_row

VIDEO = "grok-imagine-video"
SUBMIT = "POST /v1/videos/generations"
POLL = "GET /v1/videos/{request_id}"


def test_a_500_on_submit_is_retried_and_the_task_succeeds(
    upstream: StartMock, xai_gateway: Callable[..., Gateway]
) -> None:
    mock = upstream("xai", failure="http_500", failure_on="submit", fail_times=1)
    gateway = xai_gateway(mock)
    key = gateway.key(credits=100)

    task = create(gateway, key, VIDEO)

    assert gateway.wait_for(task["id"], key)["status"] == "succeeded"
    assert mock.mock.stats.by_endpoint[SUBMIT] == 2
    assert len(mock.mock.jobs) == 1


def test_a_429_on_submit_waits_for_retry_after_then_succeeds(
    upstream: StartMock, xai_gateway: Callable[..., Gateway]
) -> None:
    mock = upstream("xai", failure="http_429", failure_on="submit", fail_times=1, retry_after_s=1)
    gateway = xai_gateway(mock)
    key = gateway.key(credits=100)

    started = time.monotonic()
    task = create(gateway, key, VIDEO)
    gateway.wait_for(task["id"], key, statuses=("processing", "succeeded", "failed"))
    waited_s = time.monotonic() - started

    assert gateway.wait_for(task["id"], key)["status"] == "succeeded"
    assert waited_s >= 1.0
    assert mock.mock.stats.by_endpoint[SUBMIT] == 2


def test_poll_500s_and_timeouts_are_unknown_and_the_task_still_succeeds(
    upstream: StartMock, xai_gateway: Callable[..., Gateway]
) -> None:
    mock = upstream("xai", failure="http_500", failure_on="poll", fail_times=3, hang_s=1.5)
    gateway = xai_gateway(mock)
    key = gateway.key(credits=100)
    task = create(gateway, key, VIDEO)
    gateway.wait_for(task["id"], key, statuses=("processing", "succeeded", "failed"))
    while mock.mock.stats.faults["http_500"] < 3:
        time.sleep(0.02)
    mock.mock.config.failure, mock.mock.config.fail_times = "timeout", 1

    done = gateway.wait_for(task["id"], key)

    assert (done["status"], done["error"]) == ("succeeded", None)
    assert mock.mock.stats.faults == {"http_500": 3, "timeout": 1}


def test_unparsable_poll_answers_are_unknown_and_the_task_still_succeeds(
    upstream: StartMock, xai_gateway: Callable[..., Gateway]
) -> None:
    mock = upstream("xai", failure="garbage_json", failure_on="poll", fail_times=2)
    gateway = xai_gateway(mock)
    key = gateway.key(credits=100)

    task = create(gateway, key, VIDEO)

    assert gateway.wait_for(task["id"], key)["status"] == "succeeded"
    assert mock.mock.stats.faults == {"garbage_json": 2}


def test_pending_polls_without_a_body_are_still_pending(
    upstream: StartMock, xai_gateway: Callable[..., Gateway]
) -> None:
    mock = upstream("xai", pending_body=False, generation_time_s=0.6)
    gateway = xai_gateway(mock)
    key = gateway.key(credits=100)

    task = create(gateway, key, VIDEO)

    assert gateway.wait_for(task["id"], key)["status"] == "succeeded"
    assert mock.mock.stats.by_endpoint[POLL] >= 2


def assert_failed_and_refunded(gateway: Gateway, task_id: str, key: object, code: str, message: str) -> None:
    done = gateway.wait_for(task_id, key)  # type: ignore[arg-type]
    assert (done["status"], done["final_credits"], done["error"]) == (
        "failed",
        0,
        {"code": code, "message": message},
    )
    assert balance(gateway, key) == 100  # type: ignore[arg-type]


def test_an_expired_result_fails_the_task_and_releases_the_credits(
    upstream: StartMock, xai_gateway: Callable[..., Gateway]
) -> None:
    gateway = xai_gateway(upstream("xai", failure="expired"))
    key = gateway.key(credits=100)

    task = create(gateway, key, VIDEO)

    assert_failed_and_refunded(
        gateway,
        task["id"],
        key,
        "upstream_expired",
        "xai reports the result as expired before it could be collected.",
    )


def test_a_moderated_result_fails_as_content_moderated_and_releases_the_credits(
    upstream: StartMock, xai_gateway: Callable[..., Gateway]
) -> None:
    gateway = xai_gateway(upstream("xai", failure="moderation"), billing_on_moderation="refund")
    key = gateway.key(credits=100)

    task = create(gateway, key, VIDEO)

    assert_failed_and_refunded(
        gateway,
        task["id"],
        key,
        "content_moderated",
        "xai withheld the result: it did not pass content moderation.",
    )
    # The upstream still charged for it: the operator's margin report sees the cost.
    assert task_row(gateway, task["id"]).upstream_cost_ticks == 3_000_000_000


def test_a_moderated_image_fails_as_content_moderated(
    upstream: StartMock, xai_gateway: Callable[..., Gateway]
) -> None:
    gateway = xai_gateway(upstream("xai", failure="moderation"), billing_on_moderation="refund")
    key = gateway.key(credits=100)

    task = create(gateway, key, "grok-imagine")

    assert_failed_and_refunded(
        gateway,
        task["id"],
        key,
        "content_moderated",
        "xai withheld the result: it did not pass content moderation.",
    )


@pytest.mark.parametrize("model", [VIDEO, "grok-imagine-image-2.0"])
def test_moderation_reported_as_failed_with_invalid_argument_is_content_moderated(
    upstream: StartMock, xai_gateway: Callable[..., Gateway], model: str
) -> None:
    # xAI's other form of a moderation block: status failed, error.code invalid_argument.
    gateway = xai_gateway(upstream("xai", failure="moderation_failed"), billing_on_moderation="refund")
    key = gateway.key(credits=100)

    task = create(gateway, key, model)

    assert_failed_and_refunded(
        gateway,
        task["id"],
        key,
        "content_moderated",
        "xai withheld the result: it did not pass content moderation.",
    )


def test_an_upstream_failure_fails_as_generation_failed_and_releases_the_credits(
    upstream: StartMock, xai_gateway: Callable[..., Gateway]
) -> None:
    gateway = xai_gateway(upstream("xai", failure="failed"))
    key = gateway.key(credits=100)

    task = create(gateway, key, VIDEO)

    assert_failed_and_refunded(
        gateway, task["id"], key, "generation_failed", "xai: Video generation failed. (internal_error)"
    )


AMBIGUOUS = (
    "The upstream may or may not have received this task (xai: the request was sent but its answer "
    "was lost ({error}); the upstream may have accepted it.) and has no way to look it up; "
    "it was not resubmitted, to avoid paying twice. Credits were released."
)


def test_a_connection_reset_on_submit_fails_safely_without_a_second_submit(
    upstream: StartMock, xai_gateway: Callable[..., Gateway]
) -> None:
    mock = upstream("xai", failure="reset", failure_on="submit")
    gateway = xai_gateway(mock)
    key = gateway.key(credits=100)

    task = create(gateway, key, VIDEO)

    assert_failed_and_refunded(
        gateway, task["id"], key, "upstream_submit_ambiguous", AMBIGUOUS.format(error="connection dropped")
    )
    assert mock.mock.stats.by_endpoint == {SUBMIT: 1}
    assert task_row(gateway, task["id"]).submit_ambiguous == 1


def test_a_submit_that_times_out_after_sending_fails_safely_without_a_second_submit(
    upstream: StartMock, xai_gateway: Callable[..., Gateway]
) -> None:
    mock = upstream("xai", failure="timeout", failure_on="submit", hang_s=1.5)
    gateway = xai_gateway(mock)
    key = gateway.key(credits=100)

    task = create(gateway, key, VIDEO)

    assert_failed_and_refunded(
        gateway, task["id"], key, "upstream_submit_ambiguous", AMBIGUOUS.format(error="no answer in time")
    )
    assert mock.mock.stats.by_endpoint == {SUBMIT: 1}


def test_a_task_the_upstream_never_finishes_ends_at_its_deadline_as_upstream_timeout(
    upstream: StartMock, xai_gateway: Callable[..., Gateway]
) -> None:
    gateway = xai_gateway(upstream("xai", generation_time_s=60), task_deadline_s=1.0)
    key = gateway.key(credits=100)

    task = create(gateway, key, VIDEO)

    assert_failed_and_refunded(
        gateway, task["id"], key, "upstream_timeout", "The upstream did not finish within 1 s."
    )


def test_a_poll_that_outlasts_the_lease_keeps_the_task_leased_and_its_answer_counts(
    upstream: StartMock, xai_gateway: Callable[..., Gateway]
) -> None:
    mock = upstream("xai", failure="timeout", failure_on="poll", fail_times=1, hang_s=1.5)
    gateway = xai_gateway(mock, lease_s=0.3, upstream_timeout_s=5.0)
    key = gateway.key(credits=100)
    task = create(gateway, key, VIDEO)
    while mock.mock.stats.faults.get("timeout", 0) < 1:
        time.sleep(0.02)

    time.sleep(1.0)  # three lease lengths into the hanging poll
    held = task_row(gateway, task["id"])

    assert held.lease_expires_at is not None and held.lease_expires_at > time.time() * 1000
    assert gateway.wait_for(task["id"], key)["status"] == "succeeded"
    assert gateway.ctx.worker.stats.lost_writes == 0
