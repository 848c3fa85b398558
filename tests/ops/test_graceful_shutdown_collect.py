"""SIGTERM while a worker is storing a result: nothing half-written stays, the task is captured once."""

from __future__ import annotations

import shutil
import struct
from collections.abc import Callable
from pathlib import Path

import httpx

from imagine_gateway.runtime import Overrides
from tests.conftest import Gateway
from tests.ops.processes import free_port, imagine, terminate, wait_http
from tests.ops.workers import GRACE_S, worker_env
from tests.providers.conftest import StartMock, balance, create, task_row, wait_until
from tests.reliability.facts import account_facts

VIDEO = "grok-imagine-video"
RESULT_BYTES = 6 << 20
# About six seconds per download: SIGTERM finds it mid-write, and the grace period cannot outlast it.
SLOW_LINK_BYTES_PER_S = 1 << 20


def padded_video(source: Path, target: Path, size_bytes: int) -> Path:
    """A copy of ``source`` grown to ``size_bytes`` by a trailing MP4 ``free`` box (it still decodes)."""
    shutil.copyfile(source, target)
    padding = size_bytes - target.stat().st_size
    with target.open("ab") as file:
        file.write(struct.pack(">I4sQ", 1, b"free", padding) + bytes(padding - 16))
    return target


def temp_files(media_root: Path) -> list[Path]:
    """Puts in progress in local storage (its ``.tmp`` directory)."""
    tmp = media_root / ".tmp"
    return sorted(tmp.iterdir()) if tmp.is_dir() else []


def test_sigterm_mid_collect_leaves_no_partial_result_and_another_worker_captures_each_task_once(
    tmp_path: Path, upstream: StartMock, small_video: Path, gateway_factory: Callable[..., Gateway]
) -> None:
    result = padded_video(small_video, tmp_path / "big.mp4", RESULT_BYTES)
    mock = upstream("xai", media_file=result, media_bytes_per_s=SLOW_LINK_BYTES_PER_S)
    home = tmp_path / "home"
    gateway = gateway_factory(home=home, overrides=Overrides(run_worker=False))
    media_root = home / "media"
    key = gateway.key(credits=1000)
    env = worker_env(mock)
    port = free_port()
    first = imagine(home, "worker", IMAGINE_WORKER_HTTP_PORT=str(port), **env)
    second = None
    try:
        wait_http(first, f"http://127.0.0.1:{port}/readyz")
        tasks = [create(gateway, key, VIDEO)["id"] for _ in range(2)]
        # Both downloads have written their first megabytes into storage's temp files: mid-collect.
        wait_until(
            lambda: len([p for p in temp_files(media_root) if p.stat().st_size > 0]) == 2, timeout_s=30
        )
        held = [task_row(gateway, t) for t in tasks]
        assert [row.state for row in held] == ["collecting"] * 2
        leases = {row.lease_owner for row in held}
        assert len(leases) == 1 and None not in leases
        # Later downloads run at full speed; the first worker's two stay slow.
        mock.mock.config.media_bytes_per_s = None

        code, err, took_s = terminate(first)
        assert code == 0, err
        assert took_s < GRACE_S + 5, err
        assert "released 2 tasks to other workers" in err
        # Nothing half-written: no temp file, no result under the tasks' keys; the tasks wait, unleased.
        assert temp_files(media_root) == []
        assert [p for t in tasks for p in (media_root / "results" / t).glob("*")] == []
        released = [task_row(gateway, t) for t in tasks]
        assert [(row.state, row.lease_owner) for row in released] == [("collecting", None)] * 2

        second = imagine(home, "worker", **env)
        done = [gateway.wait_for(t, key, timeout_s=60) for t in tasks]
    finally:
        for proc in (first, second):
            if proc is not None and proc.poll() is None:
                terminate(proc)

    assert [d["status"] for d in done] == ["succeeded"] * 2
    expected = result.read_bytes()
    for d in done:
        stored = httpx.get(d["result"]["primary_url"], timeout=30)
        assert (stored.status_code, stored.content == expected) == (200, True)
    assert temp_files(media_root) == []
    stats = mock.mock.stats.by_endpoint
    assert stats["POST /v1/videos/generations"] == 2  # submitted once each
    assert stats["GET /media/{name}"] == 4  # the interrupted download and the complete one, each
    facts = account_facts(gateway.settings.resolved_database_url, key.account_id)
    assert [facts.postings[(t, "capture")] for t in tasks] == [1, 1]
    assert facts.charged_at_most_once and facts.balanced
    assert facts.balance == balance(gateway, key) == 1000 - sum(d["final_credits"] for d in done)
