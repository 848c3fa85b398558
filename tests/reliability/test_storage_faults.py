"""Full and read-only disks: clear errors, nothing left behind, and the sweeper removes what a crash left."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import textwrap
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest

from imagine_gateway.core.clock import Clock, SystemClock
from imagine_gateway.media.storage import LocalStorage
from imagine_gateway.store.db import Database
from imagine_gateway.worker.sweeper import TEMP_MAX_AGE_S, Sweeper, SweepStats
from tests.conftest import Gateway
from tests.files.samples import png
from tests.providers.conftest import StartMock, create
from tests.reliability.conftest import Scenario
from tests.reliability.disks import fill, leftovers, read_only, tmpfs
from tests.reliability.facts import file_rows, wait_all_ended


@pytest.fixture
def disk(tmp_path: Path) -> Iterator[Path]:
    """The gateway's home on a 4 MiB tmpfs (the database stays outside it)."""
    if os.geteuid() != 0:
        pytest.skip("mounting a tmpfs needs root")
    with tmpfs(tmp_path / "disk") as mounted:
        yield mounted


def _start(factory: Callable[..., Gateway], disk: Path, tmp_path: Path, **settings: object) -> Gateway:
    return factory(home=disk, database_url=f"sqlite+aiosqlite:///{tmp_path / 'db.sqlite'}", **settings)


def _upload(gateway: Gateway, secret_headers: dict[str, str]) -> tuple[int, dict[str, object]]:
    response = gateway.http.post(
        "/api/v1/files",
        headers=secret_headers,
        data={"kind": "image"},
        files={"file": ("a.png", png(size=(256, 256)), "image/png")},
    )
    return response.status_code, response.json()


def test_upload_on_a_full_disk_is_507_storage_unavailable_and_leaves_nothing(
    gateway_factory: Callable[..., Gateway], disk: Path, tmp_path: Path, scenario: Scenario
) -> None:
    """Uploads on a full disk: 507 storage_unavailable, no temp file, no row."""
    gateway = _start(gateway_factory, disk, tmp_path)
    key = gateway.key()
    before = leftovers(disk)
    fill(disk)
    tries = 5
    for _ in range(tries):
        status, body = _upload(gateway, key.headers)
        assert status == 507
        assert body["error"]["code"] == "storage_unavailable"
        assert "the disk is full" in body["error"]["message"]
    assert leftovers(disk) == before
    assert file_rows(gateway.settings.resolved_database_url, key.account_id) == 0
    scenario.record(tries=tries, unit="uploads", answered="507 storage_unavailable", files_left=0, rows=0)


def test_upload_on_a_read_only_disk_is_503_storage_unavailable(
    gateway_factory: Callable[..., Gateway], disk: Path, tmp_path: Path, scenario: Scenario
) -> None:
    """Uploads on a read-only disk: 503 storage_unavailable naming it, no row."""
    gateway = _start(gateway_factory, disk, tmp_path)
    key = gateway.key()
    assert _upload(gateway, key.headers)[0] == 201
    read_only(disk)
    tries = 5
    for _ in range(tries):
        status, body = _upload(gateway, key.headers)
        assert (status, body["error"]["code"]) == (503, "storage_unavailable")
        assert "the file system is read-only" in body["error"]["message"]
    assert file_rows(gateway.settings.resolved_database_url, key.account_id) == 1
    scenario.record(tries=tries, unit="uploads", answered="503 storage_unavailable", rows=0)


def test_collect_on_a_full_disk_fails_the_task_refunded_and_leaves_no_result_files(
    upstream: StartMock,
    xai_gateway: Callable[..., Gateway],
    disk: Path,
    tmp_path: Path,
    small_video: Path,
    scenario: Scenario,
) -> None:
    """Collects on a disk with room for the video but not its poster: failed, refunded, no files."""
    mock = upstream("xai")
    gateway = xai_gateway(
        mock, home=disk, database_url=f"sqlite+aiosqlite:///{tmp_path / 'db.sqlite'}", collect_attempts=2
    )
    key = gateway.key(credits=100)
    before = leftovers(disk)
    # Room for the video's pages and its metadata's page, not for the poster frame too.
    pages = -(-small_video.stat().st_size // 4096) + 1
    fill(disk, leave_bytes=pages * 4096)
    tries = 3
    ids = [create(gateway, key, "grok-imagine-video", {"duration": 6})["id"] for _ in range(tries)]
    facts = wait_all_ended(gateway.settings.resolved_database_url, key.account_id, timeout_s=60)
    assert dict(facts.states) == {"failed": tries}
    assert dict(facts.errors) == {"result_unavailable": tries}
    assert facts.balanced and facts.balance == 100
    for task_id in ids:
        body = gateway.http.get(f"/api/v1/generations/{task_id}", headers=key.headers).json()
        assert body["error"]["message"].startswith(
            ("Storing the poster frame failed", "Storing the result failed")
        )
    assert leftovers(disk) == before
    scenario.record(tries=tries, unit="collects", failed="result_unavailable, refunded", files_left=0)


KILLED_WRITER = textwrap.dedent(
    """
    import asyncio, pathlib, sys
    from imagine_gateway.media.storage import LocalStorage

    async def chunks():
        while True:
            yield b"x" * (1 << 20)
            print("wrote", flush=True)
            await asyncio.sleep(0.05)

    asyncio.run(LocalStorage(pathlib.Path(sys.argv[1])).put_stream(
        "results/task_killed/0.mp4", chunks(), content_type="video/mp4", max_bytes=1 << 40))
    """
)


async def _sweep(gateway: Gateway, clock: Clock) -> SweepStats:
    """One sweep as the gateway's own would run it, on connections of its own."""
    db = Database(gateway.settings.resolved_database_url)
    try:
        storage = LocalStorage((gateway.settings.home / "media").resolve())
        return await Sweeper(db=db, storage=storage, clock=clock).sweep_once()
    finally:
        await db.dispose()


class _Later:
    def __init__(self, ahead_s: float) -> None:
        self.ahead_ms = int(ahead_s * 1000)

    def now_ms(self) -> int:
        return SystemClock().now_ms() + self.ahead_ms


def test_a_write_killed_midway_leaves_a_temp_file_the_sweeper_removes_once_stale(
    gateway: Gateway, scenario: Scenario
) -> None:
    """A write killed with SIGKILL midway: its temp file is swept once older than the bound."""
    media = gateway.settings.home / "media"
    tries = 3
    for _ in range(tries):
        writer = subprocess.Popen(
            [sys.executable, "-c", KILLED_WRITER, str(media)], stdout=subprocess.PIPE, text=True
        )
        assert writer.stdout is not None
        writer.stdout.readline()
        os.kill(writer.pid, signal.SIGKILL)
        writer.wait(timeout=10)
        writer.stdout.close()
    assert len(list((media / ".tmp").iterdir())) == tries
    fresh = asyncio.run(_sweep(gateway, _Later(0)))
    assert fresh == SweepStats()
    stale = asyncio.run(_sweep(gateway, _Later(TEMP_MAX_AGE_S + 1)))
    assert stale == SweepStats(temp_files_removed=tries)
    assert list((media / ".tmp").iterdir()) == []
    scenario.record(tries=tries, unit="killed writes", temp_files_left=0)


def test_result_files_of_tasks_that_ended_without_a_result_are_swept_once_stale(
    gateway: Gateway, scenario: Scenario
) -> None:
    """Result files of a task that no longer exists: swept once older than the bound, live ones kept."""
    key = gateway.key()
    done = gateway.wait_for(
        gateway.http.post(
            "/api/v1/generations", headers=key.headers, json={"model": "grok-imagine", "prompt": "kept"}
        ).json()["id"],
        key,
    )
    media = gateway.settings.home / "media"
    orphan = media / "results" / "task_gone000000000000000"
    orphan.mkdir(parents=True)
    (orphan / "0.mp4").write_bytes(b"left by a crash")
    (media / ".meta" / "results" / orphan.name).mkdir(parents=True)
    (media / ".meta" / "results" / orphan.name / "0.mp4.json").write_text("{}")
    assert asyncio.run(_sweep(gateway, _Later(0))) == SweepStats()
    assert asyncio.run(_sweep(gateway, _Later(TEMP_MAX_AGE_S + 1))) == SweepStats(orphans_removed=1)
    assert not orphan.exists() and not (media / ".meta" / "results" / orphan.name).exists()
    assert (media / "results" / done["id"]).is_dir()
    assert httpx.get(done["result"]["primary_url"]).status_code == 200
    scenario.record(tries=1, unit="orphaned result directories", left=0, live_results_kept=1)
