"""Webhook events and deliveries list newest first, a page at a time, with the same cursors as tasks."""

from __future__ import annotations

from typing import Any

from tests.conftest import Gateway
from tests.matchers import error_body
from tests.webhooks.conftest import Account, Receiver


def _pages(gateway: Gateway, path: str, headers: dict[str, str]) -> list[dict[str, Any]]:
    """Every page of a list, two items at a time."""
    pages = [gateway.http.get(path, params={"limit": 2}, headers=headers).json()]
    while pages[-1]["next_cursor"]:
        cursor = pages[-1]["next_cursor"]
        pages.append(gateway.http.get(path, params={"limit": 2, "cursor": cursor}, headers=headers).json())
    return pages


def test_events_and_deliveries_page_newest_first(account: Account, receiver: Receiver) -> None:
    gateway, headers = account.gateway, account.key.headers
    endpoint = gateway.http.post("/api/v1/webhooks", headers=headers, json={"url": receiver.url}).json()
    sent = [
        gateway.http.post(f"/api/v1/webhooks/{endpoint['id']}/test", headers=headers).json() for _ in range(3)
    ]

    deliveries = _pages(gateway, f"/api/v1/webhooks/{endpoint['id']}/deliveries", headers)
    events = _pages(gateway, "/api/v1/webhook-events", headers)

    newest_first = [d["id"] for d in reversed(sent)]
    assert [([d["id"] for d in p["data"]], p["has_more"]) for p in deliveries] == [
        (newest_first[:2], True),
        (newest_first[2:], False),
    ]
    assert [([e["id"] for e in p["data"]], p["has_more"]) for p in events] == [
        ([d["event_id"] for d in reversed(sent)][:2], True),
        ([d["event_id"] for d in reversed(sent)][2:], False),
    ]
    assert deliveries[-1]["next_cursor"] is None and events[-1]["next_cursor"] is None


def test_a_cursor_the_api_did_not_issue_is_validation_failed(account: Account) -> None:
    gateway, headers = account.gateway, account.key.headers

    answer = gateway.http.get("/api/v1/webhook-events", params={"cursor": "%%%"}, headers=headers)

    assert (answer.status_code, answer.json()) == (
        400,
        error_body(
            "validation_failed",
            "cursor: not a cursor this API returned",
            [{"field": "cursor", "issue": "not a cursor this API returned"}],
        ),
    )
