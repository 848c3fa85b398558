"""The ledger stays exact under concurrency; idempotency keys create exactly one task."""

from __future__ import annotations

import asyncio

from tests.budgets import create_at_once, ledger_facts
from tests.conftest import Gateway
from tests.idempotency import assert_20_concurrent_creates_with_one_idempotency_key_make_one_task
from tests.matchers import error_body


def test_200_concurrent_creates_against_a_balance_for_50_make_exactly_50_tasks(gateway_factory) -> None:  # type: ignore[no-untyped-def]
    gateway: Gateway = gateway_factory(sandbox_latency_s=60)
    key = gateway.key(credits=500)
    responses = asyncio.run(create_at_once(gateway.base_url, key, 200))
    codes = sorted(r.status_code for r in responses)
    assert codes.count(202) == 50
    assert codes.count(402) == 150
    facts = ledger_facts(gateway, key.account_id)
    assert facts == {
        "balance": 0,
        "reserved": 500,
        "ledger_sums": (0, 500),
        "tasks": 50,
        "kinds": {"topup": 1, "reserve": 50},
    }


def test_ledger_sums_equal_balance_after_success_failure_and_cancel(gateway_factory) -> None:  # type: ignore[no-untyped-def]
    gateway: Gateway = gateway_factory(sandbox_latency_s=0.2, sandbox_failure_rate=0.5)
    key = gateway.key(credits=200)
    # Each task fails or not by its id's hash; with 24 tasks, both outcomes are missing with odds of
    # about one in eight million.
    ids = [
        gateway.http.post(
            "/api/v1/generations", headers=key.headers, json={"model": "grok-imagine", "prompt": f"p{i}"}
        ).json()["id"]
        for i in range(24)
    ]
    finals = [gateway.wait_for(i, key) for i in ids]
    succeeded = sum(1 for f in finals if f["status"] == "succeeded")
    failed = [f for f in finals if f["status"] == "failed"]
    assert succeeded + len(failed) == 24 and succeeded > 0 and failed
    assert {(f["final_credits"], f["error"]["code"]) for f in failed} == {(0, "generation_failed")}
    facts = ledger_facts(gateway, key.account_id)
    assert facts == {
        "balance": 200 - 4 * succeeded,
        "reserved": 0,
        "ledger_sums": (200 - 4 * succeeded, 0),
        "tasks": 24,
        "kinds": {"topup": 1, "reserve": 24, "capture": succeeded, "release": len(failed)},
    }


def test_same_idempotency_key_and_body_replays_the_original_task(gateway: Gateway) -> None:
    key = gateway.key(credits=100)
    body = {"model": "grok-imagine-video", "prompt": "once", "params": {"duration": 6}}
    first = gateway.http.post(
        "/api/v1/generations", headers={**key.headers, "Idempotency-Key": "order-7"}, json=body
    )
    # The same request with the number sent as a string is the same request.
    second = gateway.http.post(
        "/api/v1/generations",
        headers={**key.headers, "Idempotency-Key": "order-7"},
        json={**body, "params": {"duration": "6"}},
    )
    assert (first.status_code, second.status_code) == (202, 202)
    assert first.headers["idempotent-replayed"] == "false"
    assert second.headers["idempotent-replayed"] == "true"
    assert second.json()["id"] == first.json()["id"]
    assert gateway.http.get("/api/v1/credits", headers=key.headers).json()["balance"] == 90


def test_same_idempotency_key_with_a_different_body_is_409(gateway: Gateway) -> None:
    key = gateway.key(credits=100)
    headers = {**key.headers, "Idempotency-Key": "order-8"}
    gateway.http.post("/api/v1/generations", headers=headers, json={"model": "grok-imagine", "prompt": "a"})
    response = gateway.http.post(
        "/api/v1/generations", headers=headers, json={"model": "grok-imagine", "prompt": "b"}
    )
    assert response.status_code == 409
    assert response.json() == error_body(
        "idempotency_conflict", "This Idempotency-Key was already used with a different request body."
    )
    assert gateway.http.get("/api/v1/credits", headers=key.headers).json()["balance"] == 96


def test_idempotency_keys_are_scoped_to_the_account(gateway: Gateway) -> None:
    a, b = gateway.key(), gateway.key()
    body = {"model": "grok-imagine", "prompt": "same"}
    ta = gateway.http.post(
        "/api/v1/generations", headers={**a.headers, "Idempotency-Key": "k"}, json=body
    ).json()
    tb = gateway.http.post(
        "/api/v1/generations", headers={**b.headers, "Idempotency-Key": "k"}, json=body
    ).json()
    assert ta["id"] != tb["id"]


def test_concurrent_requests_with_one_idempotency_key_make_one_task(gateway_factory) -> None:  # type: ignore[no-untyped-def]
    gateway: Gateway = gateway_factory(sandbox_latency_s=60)
    assert_20_concurrent_creates_with_one_idempotency_key_make_one_task(gateway)
