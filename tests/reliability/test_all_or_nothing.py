"""A request that makes several tasks makes all of them or none, and charges accordingly."""

from __future__ import annotations

from tests.conftest import Gateway
from tests.reliability.conftest import Scenario
from tests.reliability.facts import account_facts


def test_three_images_on_credits_for_two_create_and_charge_nothing(
    gateway: Gateway, scenario: Scenario
) -> None:
    """Images with n=3 on credits for two answers: 402, nothing created or charged."""
    # grok-imagine (4 credits an image) makes one task per image; xAI's own ids make one task of n.
    key = gateway.key(credits=8)
    response = gateway.http.post(
        "/v1/images/generations",
        headers={**key.headers, "Idempotency-Key": "three"},
        json={"model": "grok-imagine", "prompt": "Three of them", "n": 3},
    )
    assert response.status_code == 402
    assert response.json() == {
        "error": {
            "message": "These 3 tasks need 12 credits together and the account's balance does not cover "
            "them all; none was created.",
            "type": "insufficient_quota",
            "param": None,
            "code": "insufficient_credits",
            "request_id": response.json()["error"]["request_id"],
        }
    }
    facts = account_facts(gateway.settings.resolved_database_url, key.account_id)
    assert (facts.tasks, facts.balance, facts.reserved, facts.ledger_sums) == (0, 8, 0, (8, 0))
    listed = gateway.http.get("/api/v1/generations", headers=key.headers).json()
    assert listed["data"] == []

    # The same key, once the balance covers all three, creates all three.
    gateway.key(credits=4, account=key.account_id)
    again = gateway.http.post(
        "/v1/images/generations",
        headers={**key.headers, "Idempotency-Key": "three"},
        json={"model": "grok-imagine", "prompt": "Three of them", "n": 3},
    )
    assert again.status_code == 200
    assert len(again.json()["data"]) == 3
    facts = account_facts(gateway.settings.resolved_database_url, key.account_id)
    assert (facts.tasks, facts.balance, facts.reserved, facts.balanced) == (3, 0, 0, True)
    scenario.record(tries=1, unit="requests", created_on_402=0, charged_on_402=0)
