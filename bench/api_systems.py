"""The systems `bench/api.py` measures, each started as its own process and stopped for sure.

Every process runs in a session of its own, so stopping it (SIGTERM, then SIGKILL after 10 s) takes
its children too: uvicorn's workers, LiteLLM's server. ``Processes.stop_all`` runs at exit, on
Ctrl-C and on SIGTERM.
"""

from __future__ import annotations

import json
import os
import secrets
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import httpx
from api_wrk import Route
from loopback import free_port

BENCH = Path(__file__).resolve().parent
LITELLM_VERSION = "1.106.2"
LITELLM_VENV = BENCH / ".venv-litellm"
PG_ADMIN_DSN = "host=127.0.0.1 port=5432 user=postgres dbname=postgres"
CREATE_BODY = json.dumps({"model": "grok-imagine", "prompt": "a red fox in fresh snow"})
HUGE_CREDITS = 10**15
RATE = ("--rate-limit", "1000000000/minute")  # no cell may meet the key's rate limit


class Processes:
    """Every process the benchmark started, to stop them all whatever happens."""

    def __init__(self, logs: Path) -> None:
        self.logs = logs
        self.running: list[subprocess.Popen[bytes]] = []
        self.cleanups: list[Callable[[], None]] = []

    def start(self, name: str, args: list[str], env: dict[str, str] | None = None) -> subprocess.Popen[bytes]:
        log = (self.logs / f"{name}.log").open("ab")
        proc = subprocess.Popen(
            args, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True, cwd=self.logs
        )
        self.running.append(proc)
        return proc

    def stop(self, proc: subprocess.Popen[bytes]) -> None:
        if proc.poll() is None:
            try:
                os.killpg(proc.pid, signal.SIGTERM)
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
            except ProcessLookupError:
                pass
        if proc in self.running:
            self.running.remove(proc)

    def stop_all(self) -> None:
        for proc in list(self.running):
            self.stop(proc)
        while self.cleanups:
            try:
                self.cleanups.pop()()
            except Exception as exc:  # cleanup must go on
                print(f"cleanup failed: {exc}", file=sys.stderr)


@dataclass
class System:
    """A server under test: how to reach it, its process (for CPU), and the routes it serves."""

    name: str
    label: str
    base_url: str = ""
    pid: int = 0
    routes: dict[str, Route] = field(default_factory=dict)
    # A gateway whose worker runs inside it: the token to ask, after a create cell, whether its
    # worker still has tasks to submit (``settle``).
    worker_token: str | None = None


def settle(system: System, *, timeout_s: float = 600.0) -> float:
    """Wait until the worker inside ``system`` has submitted every task a create cell left queued;
    the seconds it took. A create cell leaves more tasks than the worker submits in that time (its
    eight submissions at once, each with its write-back, take about 700 tasks a second), and a
    worker that is still catching up would take CPU from whichever cell comes next, of another system
    as much as of its own."""
    if system.worker_token is None:
        return 0.0
    started = time.monotonic()
    headers = {"Authorization": f"Bearer {system.worker_token}"}
    with httpx.Client(base_url=system.base_url, headers=headers, timeout=30) as client:
        while time.monotonic() - started < timeout_s:
            page = client.get("/api/v1/generations", params={"status": "queued", "limit": 1})
            page.raise_for_status()
            if not page.json()["data"]:
                return time.monotonic() - started
            time.sleep(0.5)
    raise RuntimeError(f"{system.name}: tasks still queued after {timeout_s:g} s")


def wait_ready(url: str, proc: subprocess.Popen[bytes], *, timeout_s: float, log: Path) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{url} exited with {proc.returncode}; see {log}")
        try:
            if httpx.get(url, timeout=2).status_code < 500:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"{url} did not answer within {timeout_s:g} s; see {log}")


def start_bare(procs: Processes) -> System:
    port = free_port()
    proc = procs.start("bare", [sys.executable, str(BENCH / "api_apps.py"), "bare", "--port", str(port)])
    system = System("fastapi", "bare FastAPI (the ceiling)", f"http://127.0.0.1:{port}", proc.pid)
    wait_ready(system.base_url + "/small", proc, timeout_s=30, log=procs.logs / "bare.log")
    system.routes = {
        "get": Route("get", "GET", "/small"),
        "post": Route("post", "POST", "/echo", body=json.dumps({"model": "grok-imagine", "prompt": "a fox"})),
    }
    return system


def ensure_litellm(procs: Processes) -> Path:
    """LiteLLM's proxy at the pinned version in its own virtual environment (made once)."""
    marker = LITELLM_VENV / f".installed-{LITELLM_VERSION}"
    binary = LITELLM_VENV / "bin" / "litellm"
    if marker.exists() and binary.exists():
        return binary
    print(f"installing litellm[proxy]=={LITELLM_VERSION} into {LITELLM_VENV} (once)...", flush=True)
    subprocess.run([sys.executable, "-m", "venv", "--clear", str(LITELLM_VENV)], check=True)
    log = procs.logs / "litellm-install.log"
    with log.open("wb") as out:
        pip = [str(LITELLM_VENV / "bin" / "pip"), "install", "-q", f"litellm[proxy]=={LITELLM_VERSION}"]
        if subprocess.run(pip, stdout=out, stderr=subprocess.STDOUT, check=False).returncode != 0:
            raise SystemExit(f"installing LiteLLM failed:\n{log.read_text()[-4000:]}")
    marker.touch()
    return binary


def start_litellm(procs: Processes, workdir: Path) -> System:
    binary = ensure_litellm(procs)
    mock_port, port = free_port(), free_port()
    mock = procs.start("mock", [sys.executable, str(BENCH / "api_apps.py"), "mock", "--port", str(mock_port)])
    wait_ready(f"http://127.0.0.1:{mock_port}/docs", mock, timeout_s=30, log=procs.logs / "mock.log")
    upstream = f"http://127.0.0.1:{mock_port}/v1"
    config = workdir / "litellm.yaml"
    models = [("sora-2", "openai/sora-2"), ("gpt-image-1", "openai/gpt-image-1")]
    lines = ["model_list:"]
    for name, model in models:
        lines += [
            f"  - model_name: {name}",
            "    litellm_params:",
            f"      model: {model}",
            f"      api_base: {upstream}",
            "      api_key: sk-mock",
        ]
    lines += ["litellm_settings:", "  telemetry: false", "general_settings:", "  master_key: sk-bench"]
    config.write_text("\n".join(lines) + "\n")
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("DATABASE_URL", "OPENAI", "LITELLM", "PYTHON"))
    }
    env |= {
        "LITELLM_TELEMETRY": "False",
        "LITELLM_LOG": "ERROR",
        "NO_DOCS": "True",
        "DISABLE_ADMIN_UI": "True",
    }
    args = [str(binary), "--config", str(config), "--host", "127.0.0.1", "--port", str(port)]
    args += ["--num_workers", "1", "--telemetry", "False"]
    proc = procs.start("litellm", args, env)
    system = System(
        "litellm", f"LiteLLM {LITELLM_VERSION} proxy, 1 worker", f"http://127.0.0.1:{port}", proc.pid
    )
    wait_ready(system.base_url + "/health/liveliness", proc, timeout_s=180, log=procs.logs / "litellm.log")
    system.routes = {
        "video_create": Route(
            "video_create",
            "POST",
            "/v1/videos",
            body=json.dumps({"model": "sora-2", "prompt": "a red fox in fresh snow", "seconds": "4"}),
            token="sk-bench",
        ),
        "image_create": Route(
            "image_create",
            "POST",
            "/v1/images/generations",
            body=json.dumps({"model": "gpt-image-1", "prompt": "a red fox in fresh snow"}),
            token="sk-bench",
        ),
    }
    return system


def _imagine() -> list[str]:
    found = Path(sys.executable).with_name("imagine")
    return [str(found)] if found.exists() else [sys.executable, "-m", "imagine_gateway.cli.main"]


def _pg_database(procs: Processes) -> str:
    import psycopg

    name = f"imagine_bench_{secrets.token_hex(4)}"
    with psycopg.connect(PG_ADMIN_DSN, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')

    def drop() -> None:
        with psycopg.connect(PG_ADMIN_DSN, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    procs.cleanups.append(drop)
    return f"postgresql+asyncpg://postgres@127.0.0.1:5432/{name}"


def start_gateway(procs: Processes, workdir: Path, name: str, *, postgres: bool, workers: int) -> System:
    """``imagine serve`` as a user starts it, on a home of its own; a key with a huge balance."""
    home = workdir / name
    env = {k: v for k, v in os.environ.items() if not k.startswith(("IMAGINE_", "XAI_"))}
    env |= {
        "IMAGINE_HOME": str(home),
        # No task may finish during the run: every create stays in flight.
        "IMAGINE_SANDBOX_LATENCY_S": "86400",
        "IMAGINE_LOG_LEVEL": "warning",
    }
    if postgres:
        env["IMAGINE_DATABASE_URL"] = _pg_database(procs)
    made = subprocess.run(
        [*_imagine(), "keys", "create", "--name", "bench", "--credits", str(HUGE_CREDITS), *RATE],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    secret = made.stdout.strip().splitlines()[-1]
    port = free_port()
    args = [*_imagine(), "serve", "--port", str(port)]
    if postgres:
        args.append("--no-worker")
    if workers > 1:
        args += ["--workers", str(workers)]
    proc = procs.start(name, args, env)
    database = "PostgreSQL, --no-worker" if postgres else "SQLite, worker inside"
    label = f"Imagine Gateway, {database}, {workers} API process{'es' if workers > 1 else ''}"
    system = System(
        name, label, f"http://127.0.0.1:{port}", proc.pid, worker_token=None if postgres else secret
    )
    wait_ready(system.base_url + "/api/v1/models", proc, timeout_s=120, log=procs.logs / f"{name}.log")
    headers = {"Authorization": f"Bearer {secret}"}
    with httpx.Client(base_url=system.base_url, headers=headers, timeout=30) as client:
        ids = []
        for _ in range(20):  # a full first page for the list route
            made_task = client.post(
                "/api/v1/generations", content=CREATE_BODY, headers={"content-type": "application/json"}
            )
            made_task.raise_for_status()
            ids.append(made_task.json()["id"])
    system.routes = {
        "create": Route(
            "create", "POST", "/api/v1/generations", body=CREATE_BODY, token=secret, unique_key=True
        ),
        "status": Route("status", "GET", f"/api/v1/generations/{ids[0]}", token=secret),
        "list": Route("list", "GET", "/api/v1/generations?limit=20", token=secret),
        "models": Route("models", "GET", "/api/v1/models"),
    }
    return system


GATEWAYS = {
    "sqlite": {"postgres": False, "workers": 1},
    "sqlite2": {"postgres": False, "workers": 2},
    "pg": {"postgres": True, "workers": 1},
    "pg2": {"postgres": True, "workers": 2},
}
ALL_SYSTEMS = ("fastapi", "litellm", *GATEWAYS)


def start_system(procs: Processes, workdir: Path, name: str) -> System:
    if name == "fastapi":
        return start_bare(procs)
    if name == "litellm":
        return start_litellm(procs, workdir)
    if name in GATEWAYS:
        options = GATEWAYS[name]
        return start_gateway(
            procs, workdir, name, postgres=bool(options["postgres"]), workers=int(options["workers"])
        )
    raise SystemExit(f"unknown system {name!r}; choose from {', '.join(ALL_SYSTEMS)}")
