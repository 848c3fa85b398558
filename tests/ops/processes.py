"""Starting ``imagine serve`` and ``imagine worker`` as real processes for the operations tests."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def imagine(home: Path, *args: str, log_file: Path | None = None, **env: str) -> subprocess.Popen[str]:
    """``imagine <args>`` on ``home`` with fast polling; ``env`` adds or overrides variables.

    Its log goes to ``log_file`` when given (a pipe fills up under a debug log), else to a pipe.
    """
    values = {
        **os.environ,
        "IMAGINE_HOME": str(home),
        "IMAGINE_SANDBOX_LATENCY_S": "0.3",
        "IMAGINE_SANDBOX_FPS": "4",
        "IMAGINE_WORKER_IDLE_POLL_S": "0.05",
        "IMAGINE_RATE_LIMIT": "100000/minute",
    }
    values.pop("XAI_API_KEY", None)
    values.update(env)
    command = [sys.executable, "-m", "imagine_gateway.cli.main", *args]
    if log_file is None:
        return subprocess.Popen(
            command, env=values, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
    with log_file.open("w") as log:  # the child keeps its own descriptor
        return subprocess.Popen(command, env=values, stdout=subprocess.PIPE, stderr=log, text=True)


def wait_http(proc: subprocess.Popen[str], url: str, *, timeout_s: float = 60) -> None:
    """Until ``url`` answers 200 (the process must stay alive meanwhile)."""
    deadline = time.monotonic() + timeout_s
    while True:
        assert proc.poll() is None, proc.communicate()[1]
        assert time.monotonic() < deadline, f"{url} never answered"
        try:
            if httpx.get(url, timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.1)


def terminate(proc: subprocess.Popen[str], *, timeout_s: float = 30) -> tuple[int, str, float]:
    """SIGTERM; the exit code, stderr and how long the process took to exit."""
    started = time.monotonic()
    proc.send_signal(signal.SIGTERM)
    try:
        _, err = proc.communicate(timeout=timeout_s)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.communicate()
        raise
    return proc.returncode, err, time.monotonic() - started
