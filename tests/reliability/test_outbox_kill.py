"""``kill -9`` of `imagine serve` (the process that runs the webhook outbox) right after a task's event
and delivery rows are written and before the receiver has answered; a fresh process delivers it."""

from __future__ import annotations

import asyncio
import json
import signal
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from imagine_gateway.settings import load_settings
from imagine_gateway.store.db import Database
from imagine_gateway.store.webhooks import webhook_deliveries, webhook_events
from imagine_gateway.testing.loopback import LoopbackServer
from imagine_gateway.webhooks import verify
from tests.reliability.conftest import Scenario, soak
from tests.reliability.facts import account_facts
from tests.reliability.served import imagine_serve

FAST_WEBHOOKS = {
    "IMAGINE_WEBHOOK_ALLOW_PRIVATE": "true",
    "IMAGINE_WEBHOOK_POLL_INTERVAL_S": "0.05",
    "IMAGINE_WEBHOOK_TIMEOUT_S": "1",
    "IMAGINE_WEBHOOK_LEASE_MARGIN_S": "2",
    "IMAGINE_WEBHOOK_RETRY_DELAYS_S": "[0.1, 0.2]",
}


@dataclass
class HeldReceiver:
    """Records every POST; holds each one unanswered until ``release`` (then answers 200)."""

    server: LoopbackServer
    released: threading.Event = field(default_factory=threading.Event)
    received: list[tuple[dict[str, str], bytes]] = field(default_factory=list)

    async def handle(self, request: Request) -> Response:
        body = await request.body()
        self.received.append((dict(request.headers), body))
        await asyncio.to_thread(self.released.wait)
        return Response(status_code=200)


@pytest.fixture
def held_receiver() -> Iterator[HeldReceiver]:
    server = LoopbackServer()
    made = HeldReceiver(server)
    server.app = Starlette(routes=[Route("/{path:path}", made.handle, methods=["POST"])])
    server.start()
    yield made
    made.released.set()
    server.stop()


async def _outbox(url: str, task_id: str) -> tuple[int, list[dict[str, Any]]]:
    """The task's event rows and its delivery rows."""
    db = Database(url)
    try:
        async with db.read() as conn:
            events = await conn.scalar(
                select(func.count()).select_from(webhook_events).where(webhook_events.c.task_id == task_id)
            )
            deliveries = (
                (
                    await conn.execute(
                        select(webhook_deliveries).where(webhook_deliveries.c.task_id == task_id)
                    )
                )
                .mappings()
                .all()
            )
    finally:
        await db.dispose()
    return int(events or 0), [dict(row) for row in deliveries]


def outbox(url: str, task_id: str) -> tuple[int, list[dict[str, Any]]]:
    return asyncio.run(_outbox(url, task_id))


def _wait(what: str, timeout_s: float, check: Callable[[str], Any], task_id: str) -> Any:
    deadline = time.monotonic() + timeout_s
    while not (found := check(task_id)):
        assert time.monotonic() < deadline, f"{what} within {timeout_s} s"
        time.sleep(0.005)
    return found


def test_sigkill_of_serve_after_the_webhook_outbox_is_written_still_delivers_once_announced(
    tmp_path: Path, held_receiver: HeldReceiver, scenario: Scenario
) -> None:
    """`imagine serve` SIGKILLed after the webhook outbox is written, and while its delivery is in flight.

    A fresh process delivers the event; the task is announced once and its money is unchanged."""
    home = tmp_path / "home"
    url = load_settings(home=home).resolved_database_url
    received = held_receiver.received

    def written(task_id: str) -> bool:
        return bool(outbox(url, task_id)[1])

    def in_flight(task_id: str) -> bool:
        return any(json.loads(body)["data"]["id"] == task_id for _, body in received)

    def delivered(task_id: str) -> list[dict[str, Any]]:
        return [d for d in outbox(url, task_id)[1] if d["status"] == "succeeded"]

    points: dict[str, Callable[[str], bool]] = {"outbox written": written, "delivery in flight": in_flight}
    rounds = soak(1, 3)
    leased_at_kill: Counter[str] = Counter()
    cut_off = posts = 0
    with imagine_serve(home, **FAST_WEBHOOKS) as setup:  # an account and its endpoint, before any fault
        key = setup.key(credits=1000)
        made = httpx.post(
            setup.base_url + "/api/v1/webhooks",
            headers=key.headers,
            json={"url": f"{held_receiver.server.base_url}/hooks"},
            timeout=10,
        )
    assert made.status_code == 201, made.text
    secret = made.json()["signing_secret"]
    for _ in range(rounds):
        for point, reached in points.items():
            held_receiver.released.clear()
            before = len(received)
            with imagine_serve(home, **FAST_WEBHOOKS) as served:
                created = httpx.post(
                    served.base_url + "/api/v1/generations",
                    headers=key.headers,
                    json={"model": "grok-imagine", "prompt": "A webhook after a crash"},
                    timeout=10,
                )
                assert created.status_code == 202, created.text
                task_id = created.json()["id"]
                _wait(f"{point} was reached", 60, reached, task_id)
                served.process.send_signal(signal.SIGKILL)
                served.process.wait(timeout=10)
            killed_at = len(received)
            events, [delivery] = outbox(url, task_id)
            assert (events, delivery["status"], delivery["attempts"]) == (1, "pending", 0), point
            leased = delivery["lease_expires_at"] is not None
            assert leased or point == "outbox written"
            leased_at_kill[point] += leased
            money = account_facts(url, key.account_id)
            assert money.balanced and money.states["succeeded"] == money.tasks

            held_receiver.released.set()
            # A lease the killed process took (the webhook timeout + the lease margin) has to run out first.
            with imagine_serve(home, **FAST_WEBHOOKS):
                [done] = _wait("the delivery succeeded", 60, delivered, task_id)
            events, deliveries = outbox(url, task_id)
            assert (events, len(deliveries)) == (1, 1)
            assert (done["attempts"], done["last_status_code"], done["last_error"]) == (1, 200, None)
            assert account_facts(url, key.account_id) == money
            sent = received[before:]
            assert len(sent) > killed_at - before  # the fresh process posted it
            verified = [verify(body, headers, secret) for headers, body in sent]
            # Every post, the one the kill cut off included, is the same event: receivers dedupe on its id.
            assert {(e.id, e.type, e.data["id"], e.data["status"]) for e in verified} == {
                (done["event_id"], "generation.succeeded", task_id, "succeeded")
            }
            cut_off += killed_at - before
            posts += len(sent)

    facts = account_facts(url, key.account_id)
    tries = rounds * len(points)
    assert facts.tasks == tries and facts.balanced and facts.charged_at_most_once
    assert facts.balance == 1000 - 4 * tries
    scenario.record(
        tries=tries,
        unit="killed API processes",
        kill_points=len(points),
        delivered=tries,
        announced_once=True,
        leased_when_killed=sum(leased_at_kill.values()),
        posts_cut_off_by_the_kill=cut_off,
        posts_received=posts,
        ledger_balanced=facts.balanced,
    )
