"""Billing against the xAI mock: the reservation settles to what was delivered, and each policy
decides what a cancel after submission, a moderation block and an ambiguous submit cost.

Every test checks the task's billing, its ledger rows and that the balance is the ledger's sum.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest

from imagine_gateway.providers.http import credential_label
from imagine_gateway.store import accounts as account_store
from imagine_gateway.store import ledger
from imagine_gateway.store.db import Database
from tests.conftest import Gateway, Key
from tests.providers.conftest import UPSTREAM_KEY, StartMock, create, task_row
from tests.providers.xai_media import png, upload

V15 = "grok-imagine-video-1.5"
CENT_TICKS = 100_000_000


@dataclass(frozen=True)
class Books:
    """An account's balance and reserve, and its ledger as (kind, amount, reserved_delta) per task."""

    balance: int
    reserved: int
    ledger_sums: tuple[int, int]
    rows: list[tuple[str | None, str, int, int]]

    def of(self, task_id: str) -> list[tuple[str, int, int]]:
        return [(kind, amount, delta) for task, kind, amount, delta in self.rows if task == task_id]


def books(gateway: Gateway, key: Key) -> Books:
    async def read() -> Books:
        db = Database(gateway.settings.resolved_database_url)
        try:
            async with db.read() as conn:
                account = await account_store.get_account(conn, key.account_id)
                entries = await ledger.entries(conn, key.account_id, limit=1000)
                sums = await ledger.sums(conn, key.account_id)
        finally:
            await db.dispose()
        rows = [(e.task_id, e.kind, e.amount, e.reserved_delta) for e in sorted(entries, key=lambda e: e.id)]
        return Books(account.balance, account.reserved, sums, rows)

    return asyncio.run(read())


def assert_books_balance(found: Books, credits: int) -> None:
    """Balance is the sum of the ledger's amounts, and nothing stays reserved."""
    assert found.ledger_sums == (found.balance, found.reserved) == (credits, 0)


def test_a_shorter_video_than_asked_captures_what_was_delivered_and_releases_the_rest(
    upstream: StartMock, xai_gateway: Callable[..., Gateway]
) -> None:
    # Asked: 6 s at 480p (96 credits reserved); the upstream delivers a 1 s clip.
    mock = upstream("xai", video_duration_s=1)
    gateway = xai_gateway(mock)
    key = gateway.key(credits=500)

    task = create(gateway, key, V15, {"duration": 6, "resolution": "480p"})
    done = gateway.wait_for(task["id"], key)

    assert (task["reserved_credits"], done["status"], done["final_credits"]) == (96, "succeeded", 16)
    assert done["billing"] == {
        "reserved": 96,
        "charged": 16,
        "released": 80,
        "reason": "Charged 16 of the 96 credits reserved, for what was delivered (1 s of video); "
        "80 released.",
    }
    found = books(gateway, key)
    assert found.of(task["id"]) == [("reserve", -96, 96), ("capture", 0, -16), ("release", 80, -80)]
    assert_books_balance(found, 500 - 16)
    row = task_row(gateway, task["id"])
    # The upstream's own bill for the delivered second ($0.08), and which key it went on.
    assert (row.provider, row.upstream_cost_ticks, row.upstream_credential) == (
        "xai",
        8 * CENT_TICKS,
        credential_label(UPSTREAM_KEY),
    )
    assert UPSTREAM_KEY not in str(done) and row.upstream_credential.startswith("sha256:")  # type: ignore[union-attr]


def test_a_video_as_long_as_asked_captures_the_whole_reservation_in_one_row(
    upstream: StartMock, xai_gateway: Callable[..., Gateway]
) -> None:
    gateway = xai_gateway(upstream("xai", video_duration_s=1))
    key = gateway.key(credits=100)

    task = create(gateway, key, V15, {"duration": 1, "resolution": "720p"})
    done = gateway.wait_for(task["id"], key)

    assert done["billing"] == {"reserved": 28, "charged": 28, "released": 0, "reason": None}
    found = books(gateway, key)
    assert found.of(task["id"]) == [("reserve", -28, 28), ("capture", 0, -28)]
    assert_books_balance(found, 72)


def test_the_seed_models_fixed_price_is_captured_whatever_was_delivered(
    upstream: StartMock, xai_gateway: Callable[..., Gateway]
) -> None:
    gateway = xai_gateway(upstream("xai", video_duration_s=1))
    key = gateway.key(credits=100)

    task = create(gateway, key, "grok-imagine-video", {"duration": 6})
    done = gateway.wait_for(task["id"], key)

    assert (done["final_credits"], done["billing"]["released"]) == (10, 0)
    assert_books_balance(books(gateway, key), 90)


# --- policies -------------------------------------------------------------------------------------


def image_to_video(gateway: Gateway, key: Key) -> dict[str, Any]:
    """A 1.5 image-to-video task: 6 s at 480p (96) plus one input image (2): 98 credits."""
    frame = upload(gateway, key, "image", "frame.png", png(90), "image/png")
    params = {"duration": 6, "referenceMediaItems": [{"url": frame.url, "kind": "image"}]}
    task = create(gateway, key, V15, params)
    assert task["reserved_credits"] == 98
    return task


POLICY_CHARGES = [("refund", 0), ("charge_input", 2), ("charge", 98)]


def wait_processing(gateway: Gateway, task_id: str, key: Key) -> None:
    deadline = time.monotonic() + 10
    while task_row(gateway, task_id).upstream_id is None:
        assert time.monotonic() < deadline, "the task was never accepted upstream"
        time.sleep(0.02)


def assert_charged(
    gateway: Gateway, key: Key, done: dict[str, Any], charged: int, why: str, setting: str
) -> None:
    found = books(gateway, key)
    assert done["final_credits"] == charged
    if charged == 0:
        assert done["billing"] == {"reserved": 98, "charged": 0, "released": 98, "reason": None}
        assert found.of(done["id"]) == [("reserve", -98, 98), ("release", 98, -98)]
    else:
        rest = 98 - charged
        released = f"; {rest} released" if rest else ""
        policy = (
            f"{why}; its inputs are charged ({setting})"
            if setting.endswith("charge_input")
            else f"{why} ({setting})"
        )
        reason = f"{charged} of the 98 credits reserved were charged: {policy}{released}."
        assert done["billing"] == {"reserved": 98, "charged": charged, "released": rest, "reason": reason}
        assert done["error"]["message"].endswith(" " + reason)
        rows = [("reserve", -98, 98), ("capture", 0, -charged)] + ([("release", rest, -rest)] if rest else [])
        assert found.of(done["id"]) == rows
    assert_books_balance(found, 200 - charged)


CANCEL_WHY = "the task was canceled after it was sent upstream, which runs and bills the job all the same"


@pytest.mark.parametrize(("policy", "charged"), POLICY_CHARGES)
def test_a_cancel_after_submission_charges_what_the_policy_says(
    upstream: StartMock, xai_gateway: Callable[..., Gateway], policy: str, charged: int
) -> None:
    gateway = xai_gateway(upstream("xai", generation_time_s=30), billing_on_cancel_after_submit=policy)
    key = gateway.key(credits=200)
    task = image_to_video(gateway, key)
    wait_processing(gateway, task["id"], key)

    canceled = gateway.http.post(f"/api/v1/generations/{task['id']}/cancel", headers=key.headers).json()

    assert (canceled["status"], canceled["error"]["code"]) == ("canceled", "canceled")
    assert canceled["error"]["message"].startswith("The task was canceled by the client.")
    assert_charged(
        gateway, key, canceled, charged, CANCEL_WHY, f"IMAGINE_BILLING_ON_CANCEL_AFTER_SUBMIT={policy}"
    )


def test_a_cancel_before_submission_is_refunded_whatever_the_policy(
    gateway_factory: Callable[..., Gateway],
) -> None:
    # No worker runs: the task stays queued, never sent anywhere.
    gateway = gateway_factory(run_worker=False, billing_on_cancel_after_submit="charge")
    key = gateway.key(credits=100)
    task = create(gateway, key, V15, {"duration": 1})

    canceled = gateway.http.post(f"/api/v1/generations/{task['id']}/cancel", headers=key.headers).json()

    assert (canceled["status"], canceled["final_credits"], canceled["billing"]) == (
        "canceled",
        0,
        {"reserved": 16, "charged": 0, "released": 16, "reason": None},
    )
    assert canceled["error"] == {"code": "canceled", "message": "The task was canceled by the client."}
    assert_books_balance(books(gateway, key), 100)


MODERATION_WHY = "the upstream's moderation blocked the output, and the upstream bills the job as made"


@pytest.mark.parametrize("form", ["moderation", "moderation_failed"])
@pytest.mark.parametrize(("policy", "charged"), POLICY_CHARGES)
def test_a_moderation_block_charges_what_the_policy_says(
    upstream: StartMock, xai_gateway: Callable[..., Gateway], policy: str, charged: int, form: str
) -> None:
    mock = upstream("xai", failure=form)
    gateway = xai_gateway(mock, billing_on_moderation=policy)
    key = gateway.key(credits=200)
    task = image_to_video(gateway, key)

    done = gateway.wait_for(task["id"], key)

    assert (done["status"], done["error"]["code"]) == ("failed", "content_moderated")
    assert done["error"]["message"].startswith("xai withheld the result: it did not pass content moderation.")
    assert_charged(gateway, key, done, charged, MODERATION_WHY, f"IMAGINE_BILLING_ON_MODERATION={policy}")
    # xAI bills the moderated job (6 s at $0.08 and the input image at $0.01), whatever the policy.
    assert task_row(gateway, task["id"]).upstream_cost_ticks == 49 * CENT_TICKS


AMBIGUOUS_WHY = "the submit may have reached the upstream, which bills every job it received"


@pytest.mark.parametrize(("policy", "charged"), POLICY_CHARGES)
def test_an_ambiguous_submit_charges_what_the_policy_says(
    upstream: StartMock, xai_gateway: Callable[..., Gateway], policy: str, charged: int
) -> None:
    mock = upstream("xai", failure="reset", failure_on="submit")
    gateway = xai_gateway(mock, billing_on_ambiguous_submit=policy)
    key = gateway.key(credits=200)
    task = image_to_video(gateway, key)

    done = gateway.wait_for(task["id"], key)

    assert (done["status"], done["error"]["code"]) == ("failed", "upstream_submit_ambiguous")
    refunded = done["error"]["message"].endswith("Credits were released.")
    assert refunded == (charged == 0)
    assert_charged(
        gateway, key, done, charged, AMBIGUOUS_WHY, f"IMAGINE_BILLING_ON_AMBIGUOUS_SUBMIT={policy}"
    )
    assert mock.mock.stats.by_endpoint == {"POST /v1/videos/generations": 1}


def test_the_policy_defaults_charge_a_cancel_after_submission_and_moderation_and_refund_an_ambiguous_submit(
    gateway_factory: Callable[..., Gateway],
) -> None:
    settings = gateway_factory(run_worker=False).settings

    assert (
        settings.billing_on_cancel_after_submit,
        settings.billing_on_moderation,
        settings.billing_on_ambiguous_submit,
    ) == ("charge", "charge", "refund")


def test_charge_input_on_a_request_without_inputs_is_a_refund(
    upstream: StartMock, xai_gateway: Callable[..., Gateway]
) -> None:
    gateway = xai_gateway(upstream("xai", failure="moderation"), billing_on_moderation="charge_input")
    key = gateway.key(credits=100)

    task = create(gateway, key, V15, {"duration": 2})
    done = gateway.wait_for(task["id"], key)

    assert (done["status"], done["billing"]) == (
        "failed",
        {"reserved": 32, "charged": 0, "released": 32, "reason": None},
    )
    assert_books_balance(books(gateway, key), 100)


def test_the_local_sandbox_bills_nothing_so_a_cancel_of_its_job_is_refunded(
    gateway_factory: Callable[..., Gateway],
) -> None:
    gateway = gateway_factory(sandbox_latency_s=30, billing_on_cancel_after_submit="charge")
    key = gateway.key(credits=100)
    task = create(gateway, key, V15, {"duration": 1})
    wait_processing(gateway, task["id"], key)

    canceled = gateway.http.post(f"/api/v1/generations/{task['id']}/cancel", headers=key.headers).json()

    assert (canceled["status"], canceled["billing"]) == (
        "canceled",
        {"reserved": 16, "charged": 0, "released": 16, "reason": None},
    )
    assert_books_balance(books(gateway, key), 100)
