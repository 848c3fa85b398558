"""Per-key spend caps hold under concurrency on PostgreSQL, where writers run in parallel."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import httpx

from tests.budgets import admin_key, budgeted_key, create_at_once, key_view, ledger_facts
from tests.conftest import Gateway


def test_200_concurrent_creates_on_postgres_never_pass_a_daily_cap(
    pg_url: str, gateway_factory: Callable[..., Gateway]
) -> None:
    gateway = gateway_factory(database_url=pg_url, sandbox_latency_s=60)
    admin = admin_key(gateway)
    owner = gateway.key(credits=1000)
    key, _ = budgeted_key(gateway, admin, owner.account_id, limits={"daily": 250, "total": 400})

    responses = asyncio.run(create_at_once(gateway.base_url, key, 200))

    codes = [r.status_code for r in responses]
    assert (codes.count(202), codes.count(402)) == (25, 175)
    assert {r.json()["error"]["code"] for r in responses if r.status_code == 402} == {"key_budget_exceeded"}
    assert ledger_facts(gateway, owner.account_id) == {
        "balance": 750,
        "reserved": 250,
        "ledger_sums": (750, 250),
        "tasks": 25,
        "kinds": {"topup": 1, "reserve": 25},
    }
    assert key_view(gateway, admin, owner.account_id, key.key_id)["spent"] == {
        "total": 250,
        "daily": 250,
        "monthly": 250,
    }


def test_two_keys_of_one_account_share_the_balance_and_keep_their_own_caps_on_postgres(
    pg_url: str, gateway_factory: Callable[..., Gateway]
) -> None:
    gateway = gateway_factory(database_url=pg_url, sandbox_latency_s=60)
    admin = admin_key(gateway)
    owner = gateway.key(credits=400)
    capped, _ = budgeted_key(gateway, admin, owner.account_id, limits={"daily": 100})
    free, _ = budgeted_key(gateway, admin, owner.account_id)

    async def both() -> list[list[int]]:
        results = await asyncio.gather(
            create_at_once(gateway.base_url, capped, 60), create_at_once(gateway.base_url, free, 60)
        )
        return [[r.status_code for r in rs] for rs in results]

    capped_codes, free_codes = asyncio.run(both())

    # The balance (40 tasks) is shared: together they take exactly 40, however the two bursts
    # interleave; the capped key never more than its cap of 10, the other the rest.
    taken = (capped_codes.count(202), free_codes.count(202))
    assert taken[0] <= 10 and sum(taken) == 40, taken
    assert key_view(gateway, admin, owner.account_id, capped.key_id)["spent"]["daily"] == 10 * taken[0]
    facts = ledger_facts(gateway, owner.account_id)
    assert (facts["balance"], facts["reserved"], facts["ledger_sums"], facts["tasks"]) == (
        0,
        400,
        (0, 400),
        40,
    )


def test_a_top_up_sent_20_times_at_once_with_one_idempotency_key_credits_once_on_postgres(
    pg_url: str, gateway_factory: Callable[..., Gateway]
) -> None:
    gateway = gateway_factory(database_url=pg_url)
    admin = admin_key(gateway)
    owner = gateway.key(credits=0)

    async def retries() -> list[httpx.Response]:
        async with httpx.AsyncClient(base_url=gateway.base_url, timeout=60) as client:
            return await asyncio.gather(
                *[
                    client.post(
                        f"/api/v1/admin/accounts/{owner.account_id}/topups",
                        headers={**admin.headers, "Idempotency-Key": "evt_once"},
                        json={"credits": 700, "reference": "pi_once"},
                    )
                    for _ in range(20)
                ]
            )

    responses = asyncio.run(retries())

    assert [r.status_code for r in responses] == [201] * 20
    assert len({r.text for r in responses}) == 1
    assert [r.headers.get("idempotent-replayed") for r in responses].count(None) == 1
    facts = ledger_facts(gateway, owner.account_id)
    assert (facts["balance"], facts["ledger_sums"], facts["kinds"]) == (700, (700, 0), {"topup": 1})
