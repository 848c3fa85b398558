"""Concurrent creates, and the check that one Idempotency-Key sent by many of them makes one task."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx

from tests.budgets import ledger_facts
from tests.conftest import Gateway, Key


async def create_many(base_url: str, key: Key, n: int, **extra: Any) -> list[httpx.Response]:
    """``n`` creates sent together; ``extra`` may give more ``headers`` and one ``json`` body for all."""
    async with httpx.AsyncClient(
        base_url=base_url, timeout=60, limits=httpx.Limits(max_connections=200)
    ) as client:
        return await asyncio.gather(
            *[
                client.post(
                    "/api/v1/generations",
                    headers={**key.headers, **extra.get("headers", {})},
                    json=extra.get("json", {"model": "grok-imagine-video", "prompt": f"p{i}"}),
                )
                for i in range(n)
            ]
        )


def assert_20_concurrent_creates_with_one_idempotency_key_make_one_task(gateway: Gateway) -> None:
    """One task, one reservation; one response is the original, 19 are replays."""
    key = gateway.key(credits=1000)
    responses = asyncio.run(
        create_many(
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
