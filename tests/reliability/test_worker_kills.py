"""``kill -9`` of an ``imagine worker`` process after each step of a task, then a fresh worker:
every task ends once, is submitted once and charged once, and the ledger balances."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import pytest

from imagine_gateway.runtime import Overrides
from tests.conftest import Gateway
from tests.providers.conftest import FAST_UPSTREAM, UPSTREAM_KEY, StartMock, create, task_row
from tests.reliability.conftest import Scenario, soak
from tests.reliability.facts import wait_all_ended

pytestmark = pytest.mark.postgres

SUBMIT = "POST /v1/videos/generations"
MEDIA = "GET /media/{name}"


def _worker(home: Path, database_url: str, upstream_url: str) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "IMAGINE_HOME": str(home),
        "IMAGINE_DATABASE_URL": database_url,
        "XAI_API_KEY": UPSTREAM_KEY,
        "XAI_BASE_URL": upstream_url,
        "IMAGINE_WORKER_IDLE_POLL_S": "0.05",
        "IMAGINE_LEASE_S": "1.5",
        **{f"IMAGINE_{name.upper()}": str(value) for name, value in FAST_UPSTREAM.items()},
    }
    return subprocess.Popen(
        [sys.executable, "-m", "imagine_gateway.cli.main", "worker"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def test_sigkill_of_the_worker_after_each_step_loses_nothing_and_charges_once(
    pg_url: str,
    upstream: StartMock,
    gateway_factory: Callable[..., Gateway],
    tmp_path: Path,
    scenario: Scenario,
) -> None:
    """Worker SIGKILLed after each step (inserted, submit sent, id recorded, download, stored, captured).

    After each kill a fresh worker finishes the task."""
    mock = upstream("xai", generation_time_s=0.3, media_bytes=16 << 20)
    home = tmp_path / "home"
    gateway = gateway_factory(
        home=home,
        overrides=Overrides(run_worker=False),
        database_url=pg_url,
        XAI_API_KEY=UPSTREAM_KEY,
        XAI_BASE_URL=mock.base_url,
        **FAST_UPSTREAM,
    )
    url = gateway.settings.resolved_database_url
    key = gateway.key(credits=10_000)
    stats = mock.mock.stats

    def state(task_id: str) -> str:
        return task_row(gateway, task_id).state

    points: dict[str, Callable[[str, int, int], bool]] = {
        "task inserted": lambda task_id, submits, media: True,
        "submit sent": lambda task_id, submits, media: stats.by_endpoint[SUBMIT] > submits,
        "upstream id recorded": lambda task_id, submits, media: (
            state(task_id) != "submitting" and task_row(gateway, task_id).upstream_id is not None
        ),
        "download started": lambda task_id, submits, media: stats.by_endpoint[MEDIA] > media,
        "result stored": lambda task_id, submits, media: any(
            (home / "media" / "results" / task_id).glob("0.*")
        ),
        "credits captured": lambda task_id, submits, media: state(task_id) == "succeeded",
    }
    rounds = soak(1, 5)
    outcomes: Counter[str] = Counter()
    for round_ in range(rounds):
        for point, reached in points.items():
            submits, media = stats.by_endpoint[SUBMIT], stats.by_endpoint[MEDIA]
            task_id = create(gateway, key, "grok-imagine-video", {"duration": 6})["id"]
            worker = _worker(home, pg_url, mock.base_url)
            try:
                deadline = time.monotonic() + 60
                while worker.poll() is None and not reached(task_id, submits, media):
                    assert time.monotonic() < deadline, f"{point} was never reached"
                    time.sleep(0.005)
                assert worker.poll() is None, "the worker died before its kill point"
            finally:
                worker.send_signal(signal.SIGKILL)
                worker.wait(timeout=10)
            again = _worker(home, pg_url, mock.base_url)
            try:
                ended = gateway.wait_for(task_id, key, timeout_s=60)
            finally:
                again.send_signal(signal.SIGKILL)
                again.wait(timeout=10)
            # Killed between the submit and recording its answer, a task whose upstream has no way
            # to look a job up fails as ambiguous (refunded) rather than being sent twice.
            allowed = (
                {"succeeded", "failed: upstream_submit_ambiguous"}
                if point == "submit sent"
                else {"succeeded"}
            )
            outcome = (
                ended["status"] if ended["status"] == "succeeded" else f"failed: {ended['error']['code']}"
            )
            assert outcome in allowed, (round_, point, ended)
            outcomes[outcome] += 1
    facts = wait_all_ended(url, key.account_id, timeout_s=10)
    prompts = Counter(body["prompt"] for body in stats.bodies(SUBMIT))
    assert facts.tasks == rounds * len(points)
    assert stats.by_endpoint[SUBMIT] == facts.tasks  # each task submitted once
    assert facts.states["succeeded"] == outcomes["succeeded"]
    assert facts.balanced and facts.charged_at_most_once
    assert facts.balance == 10_000 - 10 * outcomes["succeeded"]
    assert set(prompts) == {"A lighthouse at dusk"}
    scenario.record(
        tries=facts.tasks,
        unit="killed workers",
        kill_points=len(points),
        succeeded=outcomes["succeeded"],
        failed_ambiguous_refunded=outcomes["failed: upstream_submit_ambiguous"],
        double_submits=0,
        ledger_balanced=facts.balanced,
    )
