"""A server killed mid-task: the task finishes after restart, once, and is charged once."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

from imagine_gateway.settings import load_settings
from tests.budgets import ledger_facts
from tests.conftest import Gateway, create_key


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _serve(home: Path, port: int) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "IMAGINE_HOME": str(home),
        "IMAGINE_LEASE_S": "1",
        "IMAGINE_SANDBOX_LATENCY_S": "3",
        "IMAGINE_SANDBOX_FPS": "4",
        "IMAGINE_PUBLIC_BASE_URL": f"http://127.0.0.1:{port}",
    }
    env.pop("XAI_API_KEY", None)
    proc = subprocess.Popen(
        [sys.executable, "-m", "imagine_gateway.cli.main", "serve", "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/api/v1/models", timeout=1).status_code == 200:
                return proc
        except httpx.TransportError:
            time.sleep(0.1)
    proc.kill()
    raise AssertionError("server did not start")


def test_task_survives_a_killed_server_and_is_charged_once(tmp_path: Path) -> None:
    home = tmp_path / "home"
    settings = load_settings(home=home)
    made = asyncio.run(create_key(settings, name="r", credits=30))
    headers = {"Authorization": f"Bearer {made.secret}"}
    port = _free_port()
    first = _serve(home, port)
    try:
        task_id = httpx.post(
            f"http://127.0.0.1:{port}/api/v1/generations",
            headers=headers,
            json={"model": "grok-imagine-video", "prompt": "survive"},
        ).json()["id"]
        deadline = time.monotonic() + 20
        while (
            httpx.get(f"http://127.0.0.1:{port}/api/v1/generations/{task_id}", headers=headers).json()[
                "status"
            ]
            != "processing"
        ):
            assert time.monotonic() < deadline
            time.sleep(0.05)
    finally:
        first.send_signal(signal.SIGKILL)
        first.wait()

    second = _serve(home, port)
    try:
        deadline = time.monotonic() + 60
        while True:
            body = httpx.get(f"http://127.0.0.1:{port}/api/v1/generations/{task_id}", headers=headers).json()
            if body["status"] in ("succeeded", "failed"):
                break
            assert time.monotonic() < deadline, body
            time.sleep(0.1)
    finally:
        second.send_signal(signal.SIGTERM)
        second.wait(timeout=30)
    assert (body["status"], body["final_credits"]) == ("succeeded", 10)
    gw = Gateway(settings=settings, server=None, http=None)  # type: ignore[arg-type]
    facts = ledger_facts(gw, made.account.id)
    assert facts == {
        "balance": 20,
        "reserved": 0,
        "ledger_sums": (20, 0),
        "tasks": 1,
        "kinds": {"topup": 1, "reserve": 1, "capture": 1},
    }
