"""`imagine serve` as a user runs it, in a process of its own, on a free loopback port."""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

from imagine_gateway.settings import load_settings
from tests.conftest import Key, create_key


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Served:
    base_url: str
    home: Path
    process: subprocess.Popen[bytes]
    log: Path

    @property
    def address(self) -> tuple[str, int]:
        host, port = self.base_url.removeprefix("http://").split(":")
        return host, int(port)

    def key(self, credits: int = 1000) -> Key:
        made = asyncio.run(create_key(load_settings(home=self.home), name="test", credits=credits))
        return Key(made.secret, made.account.id, made.key.id)

    def rss_peak_kib(self) -> int:
        """The process's peak resident memory (VmHWM), in KiB."""
        for line in Path(f"/proc/{self.process.pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
        raise AssertionError("no VmHWM in /proc status")


@contextmanager
def imagine_serve(home: Path, **env: str) -> Iterator[Served]:
    """Start `imagine serve` with ``IMAGINE_*`` overrides; wait until it answers; stop it after."""
    port = free_port()
    log = home.parent / f"serve-{port}.log"
    home.mkdir(parents=True, exist_ok=True)
    environ = {
        **os.environ,
        "IMAGINE_HOME": str(home),
        "IMAGINE_SANDBOX_LATENCY_S": "0.3",
        "IMAGINE_WORKER_IDLE_POLL_S": "0.05",
        "IMAGINE_LOG_LEVEL": "warning",
        **env,
    }
    environ.pop("XAI_API_KEY", None)
    with log.open("wb") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "imagine_gateway.cli.main", "serve", "--port", str(port)],
            env=environ,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    served = Served(f"http://127.0.0.1:{port}", home, process, log)
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(served.base_url + "/api/v1/models", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                raise AssertionError(f"imagine serve did not start:\n{log.read_text()}")
            time.sleep(0.1)
        yield served
    finally:
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
