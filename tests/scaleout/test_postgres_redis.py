"""The same gateway on PostgreSQL + Redis, with separate API and worker processes' roles."""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Callable
from typing import Any

import httpx

from imagine_gateway.runtime import Overrides
from imagine_gateway.settings import Settings
from imagine_gateway.worker.process import run_worker_process
from tests.budgets import create_at_once, ledger_facts
from tests.conftest import Gateway, make_settings


def test_lifecycle_on_postgres_and_redis(
    pg_url: str, redis_url: str, gateway_factory: Callable[..., Gateway]
) -> None:
    gateway = gateway_factory(database_url=pg_url, redis_url=redis_url)
    key = gateway.key(credits=20)
    created = gateway.http.post(
        "/api/v1/generations",
        headers=key.headers,
        json={"model": "grok-imagine-video", "prompt": "pg", "params": {"duration": 6}},
    )
    assert created.status_code == 202
    done = gateway.wait_for(created.json()["id"], key)
    assert (done["status"], done["final_credits"]) == ("succeeded", 10)
    assert httpx.get(done["result"]["primary_url"]).headers["content-type"] == "video/mp4"
    facts = ledger_facts(gateway, key.account_id)
    assert facts == {
        "balance": 10,
        "reserved": 0,
        "ledger_sums": (10, 0),
        "tasks": 1,
        "kinds": {"topup": 1, "reserve": 1, "capture": 1},
    }


def test_200_concurrent_creates_on_postgres_make_exactly_50_tasks(
    pg_url: str, gateway_factory: Callable[..., Gateway]
) -> None:
    gateway = gateway_factory(database_url=pg_url, sandbox_latency_s=60)
    key = gateway.key(credits=500)
    responses = asyncio.run(create_at_once(gateway.base_url, key, 200))
    assert sorted(r.status_code for r in responses).count(202) == 50
    facts = ledger_facts(gateway, key.account_id)
    assert facts == {
        "balance": 0,
        "reserved": 500,
        "ledger_sums": (0, 500),
        "tasks": 50,
        "kinds": {"topup": 1, "reserve": 50},
    }


def _worker_thread(settings: Settings) -> tuple[threading.Thread, Callable[[], None]]:
    loop = asyncio.new_event_loop()
    stop_holder: dict[str, asyncio.Event] = {}

    def run() -> None:
        asyncio.set_event_loop(loop)

        async def main() -> None:
            stop_holder["stop"] = asyncio.Event()
            await run_worker_process(settings, stop=stop_holder["stop"])

        try:
            loop.run_until_complete(main())
        finally:
            loop.close()

    thread = threading.Thread(target=run, daemon=True)
    thread.start()

    def stop() -> None:
        while "stop" not in stop_holder:
            threading.Event().wait(0.01)
        loop.call_soon_threadsafe(stop_holder["stop"].set)
        thread.join(timeout=30)

    return thread, stop


def test_api_without_worker_and_two_workers_settle_every_task_once_and_sse_sees_it(
    pg_url: str, redis_url: str, tmp_path: Any, gateway_factory: Callable[..., Gateway]
) -> None:
    gateway = gateway_factory(database_url=pg_url, redis_url=redis_url, overrides=Overrides(run_worker=False))
    worker_settings = make_settings(
        tmp_path / "home", database_url=pg_url, redis_url=redis_url, public_base_url=gateway.base_url
    )
    key = gateway.key(credits=1000)
    ids = [
        gateway.http.post(
            "/api/v1/generations", headers=key.headers, json={"model": "grok-imagine", "prompt": f"w{i}"}
        ).json()["id"]
        for i in range(12)
    ]
    stops = [_worker_thread(worker_settings)[1] for _ in range(2)]
    try:
        events: list[str] = []
        with httpx.stream(
            "GET", f"{gateway.base_url}/api/v1/generations/{ids[-1]}/events", headers=key.headers, timeout=60
        ) as stream:
            for line in stream.iter_lines():
                if line.startswith("data: "):
                    events.append(json.loads(line[6:])["status"])
        assert events[-1] == "succeeded"
        finals = [gateway.wait_for(i, key)["status"] for i in ids]
    finally:
        for stop in stops:
            stop()
    assert finals == ["succeeded"] * 12
    facts = ledger_facts(gateway, key.account_id)
    assert facts == {
        "balance": 1000 - 48,
        "reserved": 0,
        "ledger_sums": (952, 0),
        "tasks": 12,
        "kinds": {"topup": 1, "reserve": 12, "capture": 12},
    }


def test_rate_limit_is_shared_through_redis_by_two_api_servers(
    pg_url: str, redis_url: str, gateway_factory: Callable[..., Gateway]
) -> None:
    first = gateway_factory(database_url=pg_url, redis_url=redis_url, rate_limit="4/minute")
    second = gateway_factory(
        database_url=pg_url, redis_url=redis_url, rate_limit="4/minute", overrides=Overrides(run_worker=False)
    )
    key = first.key()
    codes = [gw.http.get("/api/v1/credits", headers=key.headers).status_code for gw in (first, second) * 3]
    assert codes == [200, 200, 200, 200, 429, 429]
