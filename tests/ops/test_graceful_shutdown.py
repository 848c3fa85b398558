"""SIGTERM: a worker stops claiming, hands unfinished tasks back at once; SSE streams end."""

from __future__ import annotations

import asyncio
import json
import signal
import threading
import time
from collections.abc import Callable
from pathlib import Path

import httpx

from imagine_gateway.runtime import Overrides
from tests.conftest import Gateway, create_key, make_settings
from tests.ops.processes import free_port, imagine, terminate, wait_http
from tests.ops.workers import GRACE_S, worker_env
from tests.providers.conftest import StartMock, balance, create, task_row, wait_until

VIDEO = "grok-imagine-video"


def test_sigterm_mid_poll_releases_the_tasks_to_another_worker_at_once_and_nothing_is_lost(
    tmp_path: Path, upstream: StartMock, gateway_factory: Callable[..., Gateway]
) -> None:
    # Polls hang at the upstream (far longer than the grace period): SIGTERM finds them running.
    mock = upstream("xai", failure="timeout", failure_on="poll", hang_s=60.0)
    home = tmp_path / "home"
    gateway = gateway_factory(home=home, overrides=Overrides(run_worker=False))
    key = gateway.key(credits=1000)
    env = worker_env(mock)
    port = free_port()
    first = imagine(home, "worker", IMAGINE_WORKER_HTTP_PORT=str(port), **env)
    second = None
    try:
        wait_http(first, f"http://127.0.0.1:{port}/readyz")
        tasks = [create(gateway, key, VIDEO)["id"] for _ in range(4)]
        wait_until(
            lambda: mock.mock.stats.by_endpoint.get("GET /v1/videos/{request_id}", 0) >= 4, timeout_s=30
        )
        scraped = httpx.get(f"http://127.0.0.1:{port}/metrics").text  # the worker's own listener
        assert f'imagine_tasks{{model="{VIDEO}",provider="xai",state="processing"}} 4.0' in scraped
        leases = {task_row(gateway, t).lease_owner for t in tasks}
        assert len(leases) == 1 and None not in leases  # every task held by the first worker, mid-poll
        second_port = free_port()
        second = imagine(home, "worker", IMAGINE_WORKER_HTTP_PORT=str(second_port), **env)
        # The second worker runs (ready, so its start-up is not counted below), but every task is
        # leased to the first.
        wait_http(second, f"http://127.0.0.1:{second_port}/readyz")
        assert {task_row(gateway, t).lease_owner for t in tasks} == leases
        # New polls are answered from now on; the first worker's polls still hang.
        mock.mock.config.failure = "none"

        code, err, took_s = terminate(first)
        assert code == 0, err
        assert took_s < GRACE_S + 5, err
        assert "released 4 tasks to other workers" in err
        released = [task_row(gateway, t) for t in tasks]
        # Handed back (lease cleared), or already claimed again by the second worker.
        assert all(row.lease_owner not in leases for row in released)

        started = time.monotonic()
        done = [gateway.wait_for(t, key, timeout_s=30) for t in tasks]
        picked_up_s = time.monotonic() - started
    finally:
        for proc in (first, second):
            if proc is not None and proc.poll() is None:
                terminate(proc)

    assert [d["status"] for d in done] == ["succeeded"] * 4
    assert picked_up_s < 15  # not after the 30 s lease
    assert mock.mock.stats.by_endpoint["POST /v1/videos/generations"] == 4  # submitted once each
    assert balance(gateway, key) == 1000 - sum(d["final_credits"] for d in done)


def test_sigterm_ends_an_open_event_stream_of_a_queued_task_with_a_final_event(tmp_path: Path) -> None:
    home = tmp_path / "home"
    port = free_port()
    # No worker: the followed task stays queued, and its stream would never end by itself.
    server = imagine(home, "serve", "--port", str(port), "--no-worker")
    lines: list[str] = []
    try:
        base = f"http://127.0.0.1:{port}"
        wait_http(server, f"{base}/healthz")
        secret = asyncio.run(create_key(make_settings(home), name="sse", credits=100)).secret
        headers = {"Authorization": f"Bearer {secret}"}
        created = httpx.post(
            f"{base}/api/v1/generations", headers=headers, json={"model": "grok-imagine", "prompt": "a fox"}
        ).json()

        def follow() -> None:
            url = f"{base}/api/v1/generations/{created['id']}/events"
            with httpx.stream("GET", url, headers=headers, timeout=60) as response:
                lines.extend(response.iter_lines())

        reader = threading.Thread(target=follow)
        reader.start()
        wait_until(lambda: any(line.startswith("event: generation") for line in lines), timeout_s=10)
        code, err, took_s = terminate(server)
        reader.join(timeout=10)
    finally:
        if server.poll() is None:
            server.kill()

    assert not reader.is_alive()
    assert code == -signal.SIGTERM, err
    assert took_s < 10, err
    events = [line for line in lines if line.startswith("event:")]
    assert events == ["event: generation", "event: reconnect"]
    assert "retry: 1000" in lines
    final = json.loads([line for line in lines if line.startswith("data:")][-1][5:])
    assert final == {
        "id": created["id"],
        "status": "queued",
        "reason": "The server is shutting down; reconnect to go on following this task.",
    }
