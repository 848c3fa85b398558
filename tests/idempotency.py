"""The check that one Idempotency-Key sent by many concurrent creates makes one task."""

from __future__ import annotations

import asyncio

from tests.budgets import create_at_once, ledger_facts
from tests.conftest import Gateway


def assert_20_concurrent_creates_with_one_idempotency_key_make_one_task(gateway: Gateway) -> None:
    """One task, one reservation; one response is the original, 19 are replays."""
    key = gateway.key(credits=1000)
    responses = asyncio.run(
        create_at_once(
            gateway.base_url,
            key,
            20,
            {"model": "grok-imagine-video", "prompt": "one"},
            headers={"Idempotency-Key": "burst"},
        )
    )
    assert {r.status_code for r in responses} == {202}
    assert len({r.json()["id"] for r in responses}) == 1
    assert sorted(r.headers["idempotent-replayed"] for r in responses) == ["false"] + ["true"] * 19
    facts = ledger_facts(gateway, key.account_id)
    assert (facts["tasks"], facts["balance"], facts["kinds"]) == (1, 990, {"topup": 1, "reserve": 1})
