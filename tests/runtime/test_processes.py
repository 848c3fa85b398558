"""`imagine serve` and `imagine worker` as processes: they run their parts and stop cleanly on a signal."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest

from imagine_gateway.runtime import Overrides
from tests.conftest import Gateway


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def imagine(home: Path, *args: str) -> subprocess.Popen[str]:
    env = {
        **os.environ,
        "IMAGINE_HOME": str(home),
        "IMAGINE_SANDBOX_LATENCY_S": "0.3",
        "IMAGINE_SANDBOX_FPS": "4",
        "IMAGINE_WORKER_IDLE_POLL_S": "0.05",
    }
    env.pop("XAI_API_KEY", None)
    return subprocess.Popen(
        [sys.executable, "-m", "imagine_gateway.cli.main", *args],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def stopped(proc: subprocess.Popen[str], sig: signal.Signals) -> tuple[int, str]:
    """Send ``sig``; the exit code and what the process wrote to stderr."""
    proc.send_signal(sig)
    try:
        _, err = proc.communicate(timeout=30)
    except subprocess.TimeoutExpired:
        proc.kill()
        raise
    return proc.returncode, err


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_imagine_worker_runs_tasks_and_stops_cleanly_on_a_signal(
    sig: signal.Signals, tmp_path: Path, gateway_factory: Callable[..., Gateway]
) -> None:
    # An API without a worker, and a worker process beside it on the same home.
    gateway = gateway_factory(home=tmp_path / "home", overrides=Overrides(run_worker=False))
    key = gateway.key(credits=100)
    worker = imagine(tmp_path / "home", "worker")
    try:
        created = gateway.http.post(
            "/api/v1/generations", headers=key.headers, json={"model": "grok-imagine", "prompt": "a fox"}
        ).json()
        finished = gateway.wait_for(created["id"], key, timeout_s=90)
    finally:
        code, err = stopped(worker, sig)

    assert finished["status"] == "succeeded"
    assert (code, "Traceback" in err) == (0, False), err


@pytest.mark.parametrize(
    ("flags", "sig"),
    [((), signal.SIGINT), (("--no-worker",), signal.SIGTERM)],
    ids=["serve-SIGINT", "serve-no-worker-SIGTERM"],
)
def test_imagine_serve_shuts_its_runtime_down_on_a_signal(
    flags: tuple[str, ...], sig: signal.Signals, tmp_path: Path
) -> None:
    port = free_port()
    server = imagine(tmp_path / "home", "serve", "--port", str(port), *flags)
    try:
        deadline = time.monotonic() + 90
        while True:
            assert server.poll() is None, server.communicate()[1]
            assert time.monotonic() < deadline, "the server did not start"
            try:
                if httpx.get(f"http://127.0.0.1:{port}/api/v1/models", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.1)
    finally:
        code, err = stopped(server, sig)

    # uvicorn finishes the lifespan (the runtime's stop), then lets SIGTERM end the process as it would
    # have (exit status -15); SIGINT ends it with status 0.
    assert "Application shutdown complete." in err
    assert "Traceback" not in err, err
    assert code == {signal.SIGINT: 0, signal.SIGTERM: -signal.SIGTERM}[sig]
