"""The upstream misbehaves in each way the mock knows: every task still ends once, no job is made
twice, and only succeeded tasks are charged (and moderation blocks, which the default billing
policy charges as the upstream bills them)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable

import pytest

from tests.conftest import Gateway
from tests.providers.conftest import StartMock, create
from tests.reliability.conftest import Scenario, soak
from tests.reliability.facts import wait_all_ended

FAULTS = [
    ("http_500", "submit"),
    ("http_429", "submit"),
    ("timeout", "submit"),
    ("garbage_json", "submit"),
    ("reset", "submit"),
    ("http_500", "poll"),
    ("garbage_json", "poll"),
    ("reset", "poll"),
    ("expired", "submit"),
    ("moderation", "submit"),
    ("failed", "submit"),
]


@pytest.mark.parametrize(("failure", "failure_on"), FAULTS, ids=[f"{f}-{o}" for f, o in FAULTS])
def test_upstream_fault_ends_every_task_once_and_charges_only_successes(
    failure: str,
    failure_on: str,
    upstream: StartMock,
    xai_gateway: Callable[..., Gateway],
    scenario: Scenario,
) -> None:
    """Upstream fault"""
    count = soak(4, 40)
    mock = upstream("xai", failure=failure, failure_on=failure_on, fail_times=2, hang_s=1.5)
    gateway = xai_gateway(mock)
    key = gateway.key(credits=10 * count)
    for _ in range(count):
        create(gateway, key, "grok-imagine-video", {"duration": 6})
    facts = wait_all_ended(gateway.settings.resolved_database_url, key.account_id, timeout_s=90)
    jobs = Counter(mock.mock.stats.by_job)
    assert facts.tasks == count
    assert len(mock.mock.jobs) <= count  # never a second job for one task
    assert all(n >= 1 for n in jobs.values())
    assert facts.balanced and facts.charged_at_most_once
    charged = facts.states["succeeded"] + facts.errors.get("content_moderated", 0)
    assert facts.balance == 10 * count - 10 * charged
    outcome = ", ".join(f"{n} {state}" for state, n in sorted(facts.states.items())) + "".join(
        f" ({code} {n})" for code, n in sorted(facts.errors.items())
    )
    scenario.name = f"Upstream fault {failure} on {failure_on} (first 2 times)"
    scenario.record(
        tries=count,
        unit="tasks",
        outcome=outcome,
        extra_jobs=0,
        ledger_balanced=facts.balanced,
    )
