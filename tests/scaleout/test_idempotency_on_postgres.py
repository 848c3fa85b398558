"""One Idempotency-Key sent by many requests at once makes one task on PostgreSQL too (writes there
run concurrently: the claim's single statement waits for the first and then changes nothing)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from tests.api.test_credits_and_idempotency import _create_many
from tests.budgets import ledger_facts
from tests.conftest import Gateway


def test_concurrent_requests_with_one_idempotency_key_make_one_task_on_postgres(
    pg_url: str, gateway_factory: Callable[..., Gateway]
) -> None:
    gateway = gateway_factory(database_url=pg_url, sandbox_latency_s=60)
    key = gateway.key(credits=1000)
    responses = asyncio.run(
        _create_many(
            gateway.base_url,
            key,
            20,
            headers={"Idempotency-Key": "burst"},
            json={"model": "grok-imagine-video", "prompt": "one"},
        )
    )
    assert {r.status_code for r in responses} == {202}
    assert len({r.json()["id"] for r in responses}) == 1
    assert sorted(r.headers["idempotent-replayed"] for r in responses) == ["false"] + ["true"] * 19
    facts = ledger_facts(gateway, key.account_id)
    assert (facts["tasks"], facts["balance"], facts["kinds"]) == (1, 990, {"topup": 1, "reserve": 1})
