"""The embedded database's WAL stays bounded: under writes that never pause it is started over once
past its limit, and once the writes pause it is folded back whole and starts over as a new file."""

from __future__ import annotations

import asyncio
import itertools
import os
import sqlite3
from pathlib import Path

from sqlalchemy import insert

from imagine_gateway.store.db import Database
from imagine_gateway.store.migrate import upgrade
from imagine_gateway.store.tables import accounts
from imagine_gateway.store.wal_checkpoints import FRAME_HEADER, QUIET_S

LIMIT = 256 * 1024
WAL_HEADER = 32  # bytes before the first frame


def size_of(path: Path) -> int:
    return path.stat().st_size if path.exists() else 0


async def write_accounts(db: Database, first: int, count: int, wal: Path) -> list[int]:
    """``count`` quick writes one after the other, the loop never idle; the WAL's size after each."""
    sizes = []
    for i in range(first, first + count):
        async with db.write(quick=True) as conn:
            await conn.execute(
                insert(accounts).values(
                    id=f"acct_{i:06d}", name="x" * 200, balance=i, reserved=0, created_at=i
                )
            )
        sizes.append(size_of(wal))
        await asyncio.sleep(0)
    return sizes


def frames_in_wal(path: Path) -> int:
    """How many frames the WAL holds now (what a checkpoint would have to copy)."""
    with sqlite3.connect(path) as conn:
        _busy, frames, _copied = conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
    return int(frames)


def test_writes_that_never_pause_keep_the_wal_bounded(tmp_path: Path) -> None:
    """4,000 commits one after another, never a pause: without a checkpoint that starts the WAL over
    it holds all of them (about 37 MB); it is started over each time it passes its limit, so it
    stays within its limit and what the writes add between two checkpoints. That addition depends
    on how soon aiosqlite's thread gets to run beside a loop that never waits (1.4-2.4 MB and 34-39
    restarts, whether the machine is idle or every core busy; several times that when the thread is
    held up), so the bound is a third of the unbounded size, and the restarts must recur."""
    path = tmp_path / "imagine.db"
    upgrade(f"sqlite+aiosqlite:///{path}")

    async def scenario() -> tuple[int, int]:
        db = Database(f"sqlite+aiosqlite:///{path}", wal_limit_bytes=LIMIT, checkpoint_every=50)
        try:
            largest = max(await write_accounts(db, 0, 4000, Path(f"{path}-wal")))
            assert db.checkpoints is not None
            return largest, db.checkpoints.restarts
        finally:
            await db.dispose()

    largest, restarts = asyncio.run(scenario())

    assert largest < 12 * 1024 * 1024, largest
    assert restarts >= 10, restarts


def test_a_wal_started_over_under_load_keeps_its_file_so_no_commit_waits_for_it_to_be_cut(
    tmp_path: Path,
) -> None:
    """Cutting a WAL of hundreds of megabytes takes the OS 50-100 ms; a commit that started the WAL
    over would do it on the event loop while holding SQLite's write lock, stalling every create of
    every API process. So under load the file keeps its size and new frames are written over the
    old ones (recently written, still in the OS's cache): it never shrinks between two commits. (The
    limit here is large beside what the writes add between two checkpoints, as 256 MB is.)"""
    path = tmp_path / "imagine.db"
    upgrade(f"sqlite+aiosqlite:///{path}")

    async def scenario() -> tuple[list[int], int]:
        db = Database(f"sqlite+aiosqlite:///{path}", wal_limit_bytes=16 * LIMIT, checkpoint_every=50)
        try:
            sizes = await write_accounts(db, 0, 3000, Path(f"{path}-wal"))
            assert db.checkpoints is not None
            return sizes, db.checkpoints.restarts
        finally:
            await db.dispose()

    sizes, restarts = asyncio.run(scenario())

    assert restarts >= 3, restarts  # the WAL was started over, again and again...
    shrunk = [(i, a, b) for i, (a, b) in enumerate(itertools.pairwise(sizes)) if b < a]
    assert shrunk == []  # ...and its file was never cut meanwhile


def test_once_the_writes_pause_the_wal_is_folded_back_and_starts_over_as_a_new_file(tmp_path: Path) -> None:
    """Once the writes pause, the WAL is folded back and its file cut to nothing (off the event
    loop): the write after the pause holds only its own pages and extends the file, never writing
    over old pages, which the OS may have dropped from its cache meanwhile and would read back from
    the disk inside the commit."""
    path = tmp_path / "imagine.db"
    upgrade(f"sqlite+aiosqlite:///{path}")
    wal = Path(f"{path}-wal")

    async def scenario() -> tuple[int, int, int]:
        # No checkpoint under load at all: only the pause folds the WAL back.
        db = Database(f"sqlite+aiosqlite:///{path}", wal_limit_bytes=LIMIT, checkpoint_every=10**9)
        try:
            burst = max(await write_accounts(db, 0, 1500, wal))
            await asyncio.sleep(QUIET_S + 0.5)
            await write_accounts(db, 1500, 1, wal)
            return burst, size_of(wal), frames_in_wal(path)
        finally:
            await db.dispose()

    burst, after, frames = asyncio.run(scenario())

    assert burst > 4 * LIMIT  # the burst alone grew it well past its limit...
    assert 0 < frames <= 16  # ...and the write after the pause started it over with its pages
    with sqlite3.connect(path) as conn:
        page_size = conn.execute("PRAGMA page_size").fetchone()[0]
    assert after == WAL_HEADER + frames * (FRAME_HEADER + page_size)  # and nothing else
    with sqlite3.connect(path) as conn:
        assert conn.execute("SELECT count(*) FROM accounts").fetchone() == (1501,)
    assert os.path.getsize(path) > 1500 * 200  # the rows are in the database file itself
