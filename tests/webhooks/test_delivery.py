"""Webhook delivery end to end: a live gateway, a real receiver, signatures checked as a user would."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from typing import Any

import pytest

from imagine_gateway import Client, WebhookDelivery
from imagine_gateway.api.v1.views import task_view
from imagine_gateway.core.clock import SystemClock
from imagine_gateway.delivery.webhooks import WebhookDispatcher
from imagine_gateway.store.db import Database
from imagine_gateway.webhooks import WebhookVerificationError, verify
from tests.conftest import start_gateway
from tests.matchers import ISO, Matches
from tests.webhooks.conftest import FAST_WEBHOOKS, Account, Receiver

EVENT_ID = Matches(r"evt_[A-Za-z0-9_-]{20}")


def stored(account: Account, task_id: str) -> dict[str, Any]:
    body: dict[str, Any] = account.gateway.http.get(
        f"/api/v1/generations/{task_id}", headers=account.key.headers
    ).json()
    return body


def without_urls(data: dict[str, object]) -> dict[str, object]:
    """Media URLs are signed afresh on every read; the rest of the task JSON must match exactly."""
    return {k: v for k, v in data.items() if k != "result"}


def test_a_succeeded_generation_is_posted_signed_with_the_task_json(
    account: Account, receiver: Receiver
) -> None:
    endpoint = account.client.webhooks.create(f"{receiver.url}/hooks", name="main")
    assert endpoint.signing_secret is not None
    task = account.client.generations.create("grok-imagine", "A webhook cat")
    account.client.generations.wait(task.id, timeout_s=30)

    [hit] = receiver.wait_for(1)
    event = verify(hit.body, hit.headers, endpoint.signing_secret)
    done = stored(account, task.id)
    assert event.model_dump(exclude={"data"}) == {
        "id": EVENT_ID,
        "object": "event",
        "type": "generation.succeeded",
        "api_version": "2026-05-11",
        "created_at": event.created_at,
    }
    assert without_urls(event.data) == without_urls(done)
    assert event.data["result"]["media"][0]["sha256"] == done["result"]["media"][0]["sha256"]
    assert (hit.path, hit.headers["content-type"], hit.headers["webhook-id"]) == (
        "/hooks",
        "application/json",
        event.id,
    )

    assert [d.id for d in account.client.webhooks.deliveries(endpoint.id)] == [Matches(r"whdel_\S{20}")]
    listed = account.gateway.http.get(
        f"/api/v1/webhooks/{endpoint.id}/deliveries", headers=account.key.headers
    )
    assert listed.json()["data"] == [
        {
            "id": Matches(r"whdel_\S{20}"),
            "object": "webhook_delivery",
            "endpoint_id": endpoint.id,
            "event_id": event.id,
            "event_type": "generation.succeeded",
            "task_id": task.id,
            "url": f"{receiver.url}/hooks",
            "status": "succeeded",
            "attempts": 1,
            "last_status_code": 200,
            "last_error": None,
            "next_attempt_at": None,
            "created_at": ISO,
            "updated_at": ISO,
            "delivered_at": ISO,
        }
    ]
    refreshed = account.client.webhooks.retrieve(endpoint.id)
    assert (refreshed.failure_count, refreshed.last_success_at is not None) == (0, True)
    assert [e.id for e in account.client.webhooks.events()] == [event.id]


def test_a_failed_delivery_is_retried_with_the_same_id_until_it_is_accepted(
    account: Account, receiver: Receiver
) -> None:
    receiver.script = [500, 503]
    endpoint = account.client.webhooks.create(receiver.url, event_types=["generation.succeeded"])
    task = account.client.generations.create("grok-imagine", "Try again")
    account.client.generations.wait(task.id, timeout_s=30)

    hits = receiver.wait_for(3)
    events = [verify(h.body, h.headers, endpoint.signing_secret or "") for h in hits]
    assert len({e.id for e in events}) == 1 and len(hits) == 3
    delivery = _settled(account.client, endpoint.id)
    assert (delivery.status, delivery.attempts, delivery.last_status_code) == ("succeeded", 3, 200)
    assert account.client.webhooks.retrieve(endpoint.id).failure_count == 0


def test_delivery_gives_up_after_the_retry_schedule(account: Account, receiver: Receiver) -> None:
    receiver.script = [500, 500, 500, 500]
    endpoint = account.client.webhooks.create(receiver.url)
    task = account.client.generations.create("grok-imagine", "Never accepted")
    account.client.generations.wait(task.id, timeout_s=30)

    delivery = _settled(account.client, endpoint.id)
    assert (delivery.status, delivery.attempts, delivery.last_status_code, delivery.last_error) == (
        "failed",
        3,  # the first try and the two retries of FAST_WEBHOOKS
        500,
        "answered HTTP 500",
    )
    assert len(receiver.received) == 3
    assert account.client.webhooks.retrieve(endpoint.id).failure_count == 3


def test_a_tasks_own_webhook_url_is_signed_with_the_accounts_endpoint_secret(
    account: Account, receiver: Receiver
) -> None:
    endpoint = account.client.webhooks.create(f"{receiver.url}/registered", event_types=["generation.failed"])
    task = account.client.generations.create("grok-imagine", "Per task", webhook_url=f"{receiver.url}/task")
    account.client.generations.wait(task.id, timeout_s=30)

    [hit] = receiver.wait_for(1)
    event = verify(hit.body, hit.headers, endpoint.signing_secret or "")
    assert (hit.path, event.type, event.data["id"]) == ("/task", "generation.succeeded", task.id)


def test_the_test_event_reaches_the_endpoint_and_a_rotated_secret_signs_from_then_on(
    account: Account, receiver: Receiver
) -> None:
    endpoint = account.client.webhooks.create(receiver.url)
    queued = account.client.webhooks.test(endpoint.id)
    assert (queued.status, queued.event_type, queued.attempts) == ("pending", "webhook.test", 0)
    [first] = receiver.wait_for(1)
    assert verify(first.body, first.headers, endpoint.signing_secret or "").data == {
        "message": "A test event from Imagine Gateway.",
        "endpoint_id": endpoint.id,
    }

    rotated = account.client.webhooks.rotate_secret(endpoint.id)
    assert rotated.signing_secret not in (None, endpoint.signing_secret)
    account.client.webhooks.test(endpoint.id)
    second = receiver.wait_for(2)[1]
    assert verify(second.body, second.headers, rotated.signing_secret or "").type == "webhook.test"
    with pytest.raises(WebhookVerificationError):
        verify(second.body, second.headers, endpoint.signing_secret or "")


def test_a_failed_generation_is_announced_as_generation_failed(
    tmp_path_factory: pytest.TempPathFactory, receiver: Receiver
) -> None:
    gateway = start_gateway(tmp_path_factory.mktemp("failing"), sandbox_failure_rate=1.0, **FAST_WEBHOOKS)
    try:
        key = gateway.key(credits=10)
        with Client(base_url=gateway.base_url, api_key=key.secret) as client:
            endpoint = client.webhooks.create(receiver.url, event_types=["generation.failed"])
            task = client.generations.create("grok-imagine", "Doomed")
            done = client.generations.wait(task.id, timeout_s=30, raise_on_failure=False)
            [hit] = receiver.wait_for(1)
    finally:
        gateway.http.close()
        gateway.server.stop()
    event = verify(hit.body, hit.headers, endpoint.signing_secret or "")
    assert (done.status, event.type, event.data["status"], event.data["error"]) == (
        "failed",
        "generation.failed",
        "failed",
        done.error.model_dump() if done.error else None,
    )


async def test_another_delivery_loop_does_not_announce_a_task_twice(
    account: Account, receiver: Receiver, announced: tuple[str, str]
) -> None:
    _, task_id = announced
    settings = account.gateway.settings
    db = Database(settings.resolved_database_url)
    clock = SystemClock()
    second = WebhookDispatcher(
        db=db,
        settings=settings,
        clock=clock,
        render_task=lambda t: task_view(settings, t, now_ms=clock.now_ms()),
    )
    try:
        assert await second.scan() == 0
    finally:
        await second.aclose()
        await db.dispose()
    await asyncio.sleep(0.3)  # the gateway's own loop keeps scanning meanwhile
    events = list(account.client.webhooks.events())
    assert [e.data["id"] for e in events] == [task_id]
    assert len(receiver.received) == 1


@pytest.fixture
def announced(account: Account, receiver: Receiver) -> Iterator[tuple[str, str]]:
    endpoint = account.client.webhooks.create(receiver.url)
    task = account.client.generations.create("grok-imagine", "Once only")
    account.client.generations.wait(task.id, timeout_s=30)
    receiver.wait_for(1)
    yield endpoint.id, task.id


def _settled(client: Client, endpoint_id: str, timeout_s: float = 15.0) -> WebhookDelivery:
    deadline = time.monotonic() + timeout_s
    while True:
        found = list(client.webhooks.deliveries(endpoint_id))
        if len(found) == 1 and found[0].status != "pending":
            return found[0]
        if time.monotonic() > deadline:
            raise AssertionError(f"no settled delivery after {timeout_s} s: {found}")
        time.sleep(0.05)
