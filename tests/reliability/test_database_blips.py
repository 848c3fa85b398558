"""PostgreSQL connections terminated under load: no task is lost, none is sent twice, money balances."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Callable

import pytest

from tests.conftest import Gateway
from tests.providers.conftest import StartMock
from tests.reliability.blips import blipping, create_all
from tests.reliability.conftest import Scenario, soak
from tests.reliability.facts import wait_all_ended

pytestmark = pytest.mark.postgres

VIDEO_SUBMIT = "POST /v1/videos/generations"


def test_connections_terminated_during_creates_and_polls_lose_no_task(
    pg_url: str, upstream: StartMock, xai_gateway: Callable[..., Gateway], scenario: Scenario
) -> None:
    """Database connections terminated during creates, submits and polls (xAI mock, PostgreSQL)."""
    count = soak(50, 500)
    mock = upstream("xai", generation_time_s=0.5)
    gateway = xai_gateway(mock, database_url=pg_url, worker_concurrency=64)
    key = gateway.key(credits=10 * count)
    bodies = [
        {"model": "grok-imagine-video", "prompt": f"blip {i}", "params": {"duration": 6}}
        for i in range(count)
    ]
    with blipping(pg_url, every_s=0.1) as blipper:
        responses = asyncio.run(create_all(gateway.base_url, key, bodies))
        facts_during = blipper.rounds
    assert sorted({r.status_code for r in responses}) == [202]
    assert facts_during > 0 and blipper.terminated > 0
    facts = wait_all_ended(gateway.settings.resolved_database_url, key.account_id, timeout_s=120)
    submits = Counter(body["prompt"] for body in mock.mock.stats.bodies(VIDEO_SUBMIT))
    assert dict(facts.states) == {"succeeded": count}, dict(facts.errors)
    assert set(submits) == {b["prompt"] for b in bodies}
    assert max(submits.values()) == 1
    assert facts.balanced and facts.charged_at_most_once
    assert facts.balance == 0
    scenario.record(
        tries=count,
        unit="creates and polls",
        faults=f"{blipper.rounds} rounds, {blipper.terminated} connections terminated",
        lost=count - facts.states["succeeded"],
        double_submits=sum(1 for n in submits.values() if n > 1),
        ledger_balanced=facts.balanced,
    )
