"""How the suite runs on several pytest-xdist workers (docs/testing.md explains the rules).

* Each test module is one unit of work: its tests run in order on one worker, so a module-scoped
  fixture (a shared gateway, a client venv) is built once. ``@pytest.mark.xdist_group("name")`` on a
  test puts it in the unit called ``name`` instead, whichever module it is in.
* Modules with a ``slow`` test are handed out first, so that the longest units do not start last.
* ``@pytest.mark.serial`` runs a test alone: it waits until no other test runs on any worker, and no
  other test starts until it ends.
* ``worker_index()`` names per-worker resources (PostgreSQL databases, a Redis database number).
"""

from __future__ import annotations

import contextlib
import fcntl
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

MAX_WORKERS = 4  # `-n auto`: one worker per core, at most this many (PostgreSQL's 100 connections)
REDIS_DATABASES = 16  # Redis's default `databases`


def worker_id() -> str:
    """``gw0``, ``gw1``… under xdist; ``main`` in a run without workers."""
    return os.environ.get("PYTEST_XDIST_WORKER", "main")


def worker_index() -> int | None:
    """The xdist worker's number, or None in a run without workers."""
    name = os.environ.get("PYTEST_XDIST_WORKER")
    return int(name.removeprefix("gw")) if name else None


def redis_database() -> int:
    """This worker's Redis database: 0 without workers, 1, 2… for gw0, gw1…"""
    index = worker_index()
    return 0 if index is None else 1 + index % (REDIS_DATABASES - 1)


@contextlib.contextmanager
def file_lock(path: Path, *, exclusive: bool = True) -> Iterator[None]:
    """Hold ``flock`` on ``path`` (created if missing) for the block."""
    with path.open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX if exclusive else fcntl.LOCK_SH)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "serial: runs alone, with no test running beside it on any worker")


def pytest_xdist_auto_num_workers(config: pytest.Config) -> int:
    """``-n auto``: ``PYTEST_XDIST_AUTO_NUM_WORKERS`` if set, else the usable cores up to MAX_WORKERS."""
    chosen = os.environ.get("PYTEST_XDIST_AUTO_NUM_WORKERS")
    if chosen:
        return int(chosen)
    return max(1, min(len(os.sched_getaffinity(0)), MAX_WORKERS))


@pytest.hookimpl(tryfirst=True)  # before xdist's hook reads the groups
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Group every test by its module unless it names a group, and put slow modules first."""
    for item in items:
        if item.get_closest_marker("xdist_group") is None:
            item.add_marker(pytest.mark.xdist_group(item.nodeid.split("::", 1)[0]))
    slow_modules = {item.nodeid.split("::", 1)[0] for item in items if item.get_closest_marker("slow")}
    # A stable sort: the order within a module, and among the other modules, stays as collected.
    items.sort(key=lambda item: item.nodeid.split("::", 1)[0] not in slow_modules)


@pytest.fixture(scope="session")
def _run_lock_dir(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Path | None:
    """A directory every worker of this run shares (each worker's base temp is in it); None alone."""
    if not hasattr(request.config, "workerinput"):
        return None
    return tmp_path_factory.getbasetemp().parent


@pytest.fixture(autouse=True)
def _run_alone_when_serial(request: pytest.FixtureRequest, _run_lock_dir: Path | None) -> Iterator[None]:
    """Every test holds the run's lock shared; a ``serial`` test holds it exclusively.

    The turnstile keeps a waiting serial test from being overtaken: tests pass it one at a time on
    their way in, and a serial test keeps it until it has the lock to itself.
    """
    if _run_lock_dir is None:
        yield
        return
    serial = request.node.get_closest_marker("serial") is not None
    with contextlib.ExitStack() as held:
        with file_lock(_run_lock_dir / "tests.turnstile"):
            held.enter_context(file_lock(_run_lock_dir / "tests.lock", exclusive=serial))
        yield
