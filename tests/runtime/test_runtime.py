"""The runtime: every part built from the settings, started in order and each once, all closed after."""

from __future__ import annotations

import asyncio
import socket
import stat
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
import redis.exceptions
import sqlalchemy.exc
from sqlalchemy import select

from imagine_gateway.api.v1.views import task_view
from imagine_gateway.providers.router import Router
from imagine_gateway.providers.sandbox import SandboxProvider
from imagine_gateway.runtime import Overrides, Runtime
from imagine_gateway.store.tables import tasks
from tests.conftest import make_settings
from tests.worker.conftest import create_tasks

LOOPS = {"worker", "probing", "webhooks", "sweeper"}


class CountedSandbox(SandboxProvider):
    """The sandbox engine, counting how often it is closed and noting what still ran at that moment."""

    def __init__(self, *, fail_to_close: bool = False) -> None:
        super().__init__(latency_s=0.1, failure_rate=0.0, fps=4)
        self.closed = 0
        self.fail_to_close = fail_to_close
        self.runtime: Runtime | None = None
        self.running_at_close: list[str] = []

    async def aclose(self) -> None:
        self.closed += 1
        if self.runtime is not None:
            self.running_at_close = list(self.runtime.running)
        await super().aclose()
        if self.fail_to_close:
            raise RuntimeError("the provider could not close")


def closed_port() -> int:
    """A loopback port nothing listens on."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def loops_running() -> set[str]:
    return {task.get_name() for task in asyncio.all_tasks()} & LOOPS


async def states(runtime: Runtime) -> list[str]:
    async with runtime.context.db.read() as conn:
        return list((await conn.execute(select(tasks.c.state))).scalars())


def full(home: Path, provider: SandboxProvider, **settings: Any) -> Runtime:
    """A runtime with every part: worker, probing, webhook delivery, retention."""
    overrides = Overrides(router=Router([provider]), run_worker=True, announce_sandbox=False)
    runtime = Runtime(make_settings(home, **settings), overrides, webhook_view=task_view)
    provider.runtime = runtime
    return runtime


async def test_a_runtime_starts_every_part_once_in_order_and_closes_them_all(tmp_path: Path) -> None:
    provider = CountedSandbox()
    runtime = full(tmp_path, provider)

    async with runtime:
        started = list(runtime.running)
        loops = loops_running()
        await create_tasks(runtime.context, 2)  # on the schema the runtime migrated
        deadline = time.monotonic() + 20
        while await states(runtime) != ["succeeded", "succeeded"]:  # the worker loop runs them
            assert time.monotonic() < deadline, await states(runtime)
            await asyncio.sleep(0.05)

    assert started == [
        "database",
        "storage",
        "providers",
        "events",
        "worker",
        "probing",
        "webhooks",
        "sweeper",
    ]
    assert loops == LOOPS
    # Stopped in the reverse order: when the providers close, only what they started on remains.
    assert provider.running_at_close == ["database", "storage", "providers"]
    assert (runtime.running, loops_running(), provider.closed) == ([], set(), 1)


async def test_a_part_that_fails_to_close_does_not_keep_the_others_open(tmp_path: Path) -> None:
    provider = CountedSandbox(fail_to_close=True)
    runtime = full(tmp_path, provider)

    with pytest.raises(RuntimeError, match="the provider could not close"):
        async with runtime:
            pass

    assert provider.running_at_close == ["database", "storage", "providers"]
    assert (runtime.running, loops_running(), provider.closed) == ([], set(), 1)


async def test_an_api_process_without_a_worker_runs_no_worker_probing_or_sweeper(tmp_path: Path) -> None:
    provider = CountedSandbox()
    overrides = Overrides(router=Router([provider]), run_worker=False, announce_sandbox=False)
    runtime = Runtime(make_settings(tmp_path), overrides, webhook_view=task_view)

    async with runtime:
        started, loops = list(runtime.running), loops_running()

    assert started == ["database", "storage", "providers", "events", "webhooks"]
    assert loops == {"webhooks"}
    assert runtime.context.worker is None
    assert (runtime.running, loops_running(), provider.closed) == ([], set(), 1)


async def test_a_process_without_a_webhook_view_delivers_no_webhooks(tmp_path: Path) -> None:
    overrides = Overrides(run_worker=True, announce_sandbox=False)

    async with Runtime(make_settings(tmp_path), overrides) as runtime:
        started = list(runtime.running)

    assert runtime.context.webhook_dispatcher is None
    assert started == ["database", "storage", "providers", "events", "worker", "probing", "sweeper"]


async def test_without_loops_the_worker_is_built_but_only_drained_at_the_end(tmp_path: Path) -> None:
    overrides = Overrides(run_worker=True, start_loops=False, announce_sandbox=False)

    async with Runtime(make_settings(tmp_path), overrides) as runtime:
        started, loops = list(runtime.running), loops_running()
        assert runtime.context.worker is not None
        await create_tasks(runtime.context, 1)
        assert await states(runtime) == ["queued"]  # nothing claims it on its own
        assert await runtime.context.worker.claim_and_start() == 1

    assert started == ["database", "storage", "providers", "events", "worker"]
    assert (loops, runtime.running) == (set(), [])
    assert await states_after(tmp_path) == ["processing"]  # the submit step ran to its end


async def states_after(home: Path) -> list[str]:
    """The task states a later runtime on ``home`` finds (without migrating)."""
    overrides = Overrides(run_worker=False, migrate=False, announce_sandbox=False)
    async with Runtime(make_settings(home), overrides) as again:
        return await states(again)


async def test_an_event_bus_that_cannot_connect_stops_the_start_and_closes_what_had_started(
    tmp_path: Path,
) -> None:
    provider = CountedSandbox()
    runtime = full(tmp_path, provider, redis_url=f"redis://127.0.0.1:{closed_port()}/0")

    with pytest.raises(redis.exceptions.ConnectionError):
        async with runtime:
            pytest.fail("the runtime started without its event bus")

    assert (runtime.running, loops_running(), provider.closed) == ([], set(), 1)
    assert await states_after(tmp_path) == []  # the migrations before it had run


async def test_a_database_that_cannot_be_migrated_stops_the_start_and_closes_the_providers(
    tmp_path: Path,
) -> None:
    provider = CountedSandbox()
    url = f"postgresql+asyncpg://postgres@127.0.0.1:{closed_port()}/imagine"
    runtime = full(tmp_path, provider, database_url=url)

    with pytest.raises(sqlalchemy.exc.OperationalError):
        async with runtime:
            pytest.fail("the runtime started without its schema")

    assert (runtime.running, loops_running(), provider.closed) == ([], set(), 1)


async def test_a_runtime_starts_once(tmp_path: Path) -> None:
    runtime = Runtime(make_settings(tmp_path), Overrides(run_worker=False, announce_sandbox=False))
    async with runtime:
        pass

    with pytest.raises(RuntimeError, match="a Runtime starts once; build a new one to start again"):
        async with runtime:
            pytest.fail("started twice")
    assert runtime.running == []


async def test_wait_returns_when_stop_is_set(tmp_path: Path) -> None:
    stop = asyncio.Event()
    async with Runtime(make_settings(tmp_path), Overrides(announce_sandbox=False)) as runtime:
        asyncio.get_running_loop().call_later(0.1, stop.set)
        await asyncio.wait_for(runtime.wait(stop), timeout=10)
        assert runtime.running[-1] == "sweeper"  # still running: leaving stops them


def test_the_signing_secret_is_made_once_at_start_up_and_kept_for_the_next_start(tmp_path: Path) -> None:
    settings = make_settings(tmp_path)
    key_file = tmp_path / "secret.key"
    assert not key_file.exists()

    first = Runtime(settings, Overrides(run_worker=False))
    made = key_file.read_text().strip().encode()
    second = Runtime(settings, Overrides(run_worker=False))

    assert first.context.signing_key == second.context.signing_key == made
    assert first.settings.signing_key == made
    assert len(made) == 64
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert sorted(p.name for p in tmp_path.iterdir() if "secret" in p.name) == ["secret.key"]


def test_a_configured_signing_secret_is_used_and_no_file_is_written(tmp_path: Path) -> None:
    runtime = Runtime(make_settings(tmp_path, secret_key="configured"), Overrides(run_worker=False))

    assert runtime.context.signing_key == b"configured"
    assert not (tmp_path / "secret.key").exists()


def test_settings_not_given_to_a_runtime_have_no_signing_secret_to_hand_out(tmp_path: Path) -> None:
    with pytest.raises(RuntimeError, match="no signing secret: set IMAGINE_SECRET_KEY"):
        _ = make_settings(tmp_path).signing_key
    assert not (tmp_path / "secret.key").exists()


def test_the_worker_process_imports_nothing_of_the_http_api() -> None:
    probe = (
        "import sys, imagine_gateway.worker.process; "
        "print(sorted(m for m in sys.modules if m.startswith(('imagine_gateway.api', 'fastapi'))))"
    )
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=60)

    assert (done.returncode, done.stdout, done.stderr) == (0, "[]\n", "")
