"""Per-key spend caps and model allowlists, decided in the create transaction (SQLite)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from tests.budgets import VIDEO, admin_key, budgeted_key, create_at_once, key_view, ledger_facts
from tests.conftest import Gateway
from tests.matchers import error_body


def test_200_concurrent_creates_never_pass_a_daily_cap_and_the_ledger_balances(
    gateway_factory: Callable[..., Gateway],
) -> None:
    gateway = gateway_factory(sandbox_latency_s=60)
    admin = admin_key(gateway)
    owner = gateway.key(credits=1000)
    key, _ = budgeted_key(gateway, admin, owner.account_id, limits={"daily": 250})

    responses = asyncio.run(create_at_once(gateway.base_url, key, 200))

    codes = [r.status_code for r in responses]
    assert (codes.count(202), codes.count(402)) == (25, 175)
    refused = {r.json()["error"]["code"] for r in responses if r.status_code == 402}
    assert refused == {"key_budget_exceeded"}
    assert ledger_facts(gateway, owner.account_id) == {
        "balance": 750,
        "reserved": 250,
        "ledger_sums": (750, 250),
        "tasks": 25,
        "kinds": {"topup": 1, "reserve": 25},
    }
    view = key_view(gateway, admin, owner.account_id, key.key_id)
    assert (view["limits"], view["spent"]) == (
        {"total": None, "daily": 250, "monthly": None},
        {"total": 250, "daily": 250, "monthly": 250},
    )


def test_a_refund_gives_the_cap_back(gateway_factory: Callable[..., Gateway]) -> None:
    gateway = gateway_factory(sandbox_latency_s=60)
    admin = admin_key(gateway)
    owner = gateway.key(credits=100)
    key, _ = budgeted_key(gateway, admin, owner.account_id, limits={"total": 10})
    first = gateway.http.post("/api/v1/generations", headers=key.headers, json=VIDEO)
    over = gateway.http.post("/api/v1/generations", headers=key.headers, json=VIDEO)
    assert (first.status_code, over.status_code) == (202, 402)
    assert over.json() == error_body(
        "key_budget_exceeded",
        "This needs 10 credits; the API key's total cap is 10 credits and 10 are spent, so 0 remain.",
    )

    canceled = gateway.http.post(f"/api/v1/generations/{first.json()['id']}/cancel", headers=key.headers)
    again = gateway.http.post("/api/v1/generations", headers=key.headers, json=VIDEO)

    assert (canceled.json()["status"], again.status_code) == ("canceled", 202)
    assert key_view(gateway, admin, owner.account_id, key.key_id)["spent"]["total"] == 10


def test_a_batch_counts_all_its_tasks_against_the_cap_together(
    gateway_factory: Callable[..., Gateway],
) -> None:
    gateway = gateway_factory(sandbox_latency_s=60)
    admin = admin_key(gateway)
    owner = gateway.key(credits=1000)
    key, _ = budgeted_key(gateway, admin, owner.account_id, limits={"monthly": 8})
    # grok-imagine makes one task per image, 4 credits each: three of them need 12 credits.
    body = {"model": "grok-imagine", "prompt": "three boats", "n": 3}

    refused = gateway.http.post("/v1/images/generations", headers=key.headers, json=body)

    assert (refused.status_code, refused.json()["error"]["code"], refused.json()["error"]["message"]) == (
        402,
        "key_budget_exceeded",
        "These 3 tasks need 12 credits together, more than the API key's spend caps leave; none was created.",
    )
    assert ledger_facts(gateway, owner.account_id)["tasks"] == 0
    assert key_view(gateway, admin, owner.account_id, key.key_id)["spent"] == {
        "total": 0,
        "daily": 0,
        "monthly": 0,
    }


def test_a_model_outside_the_allowlist_is_refused_and_changes_nothing(
    gateway_factory: Callable[..., Gateway],
) -> None:
    gateway = gateway_factory(sandbox_latency_s=60)
    admin = admin_key(gateway)
    owner = gateway.key(credits=100)
    key, view = budgeted_key(gateway, admin, owner.account_id, models=["grok-imagine"])
    assert view["models"] == ["grok-imagine"]

    native = gateway.http.post("/api/v1/generations", headers=key.headers, json=VIDEO)
    xai = gateway.http.post(
        "/v1/videos/generations", headers=key.headers, json={"model": "grok-imagine-video", "prompt": "x"}
    )

    assert (native.status_code, native.json()) == (
        403,
        error_body(
            "model_not_allowed",
            "This API key may not use the model 'grok-imagine-video'.",
            [{"field": "model", "issue": "not in the API key's allowlist", "allowed": ["grok-imagine"]}],
        ),
    )
    assert (xai.status_code, xai.json()["error"]["code"], xai.json()["error"]["type"]) == (
        403,
        "model_not_allowed",
        "permission_error",
    )
    assert ledger_facts(gateway, owner.account_id) == {
        "balance": 100,
        "reserved": 0,
        "ledger_sums": (100, 0),
        "tasks": 0,
        "kinds": {"topup": 1},
    }
    allowed = gateway.http.post(
        "/api/v1/generations", headers=key.headers, json={"model": "grok-imagine", "prompt": "x"}
    )
    assert allowed.status_code == 202


def test_a_cap_changed_by_the_operator_holds_from_the_next_create(
    gateway_factory: Callable[..., Gateway],
) -> None:
    gateway = gateway_factory(sandbox_latency_s=60)
    admin = admin_key(gateway)
    owner = gateway.key(credits=100)
    key, _ = budgeted_key(gateway, admin, owner.account_id)
    assert gateway.http.post("/api/v1/generations", headers=key.headers, json=VIDEO).status_code == 202

    patched = gateway.http.patch(
        f"/api/v1/admin/keys/{key.key_id}", headers=admin.headers, json={"limits": {"daily": 15}}
    )
    over = gateway.http.post("/api/v1/generations", headers=key.headers, json=VIDEO)

    assert patched.json()["limits"] == {"total": None, "daily": 15, "monthly": None}
    assert (over.status_code, over.json()["error"]["code"]) == (402, "key_budget_exceeded")
