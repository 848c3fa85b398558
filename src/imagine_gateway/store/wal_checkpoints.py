"""When the quick writes' WAL is folded back into the SQLite file, so that it never grows unbounded.

The quick writes' connection never checkpoints itself (``loop_writes``: the step that fsyncs stays
off the event loop). A passive checkpoint on aiosqlite's thread every ``every`` commits copies
what it can without waiting for anyone, but under a steady stream of writes it never reaches the
WAL's end, and SQLite starts the WAL over only after a checkpoint that did. Without more, the file
grew through a benchmark's minutes of creates to 800 MB beside a 33 MB database, without bound,
and every page read looks in the WAL's index first, which grows with it. So:

- once the writes calm down (at most ``CALM_COMMITS`` quick commits in ``quiet_s``: a pause, or a
  trickle such as the worker's own writes, which never stop while tasks are in flight) a
  ``TRUNCATE`` checkpoint on aiosqlite's thread folds the WAL back whole and cuts its file to
  nothing, with this process's write lock held: the writes of that moment, few by definition, wait
  for it (the cut of a 256 MB file takes the OS about 50 ms). It runs again once a trickle has
  written ``FOLD_EVERY`` commits since. New frames then extend the file instead of being written
  over its old pages: a frame does not fill whole pages of the OS's cache, so writing over an old
  page the OS has dropped first reads it from the disk, inside the commit, and a machine that
  reclaims idle page cache drops most of a 256 MB WAL within a minute (creates after a 40 s pause
  read about 100 MB from the disk in a 10 s cell and served a quarter fewer a second);
- when the WAL holds more than ``limit_bytes`` of frames all the same (writes that never calm
  down: the passive checkpoint says how many), a ``RESTART`` follows it, run while this process's
  write lock is held: no write of this process can slip in before it, its readers are done within
  milliseconds, and the next write starts the WAL over. Two passive checkpoints have copied nearly
  every frame, so the writes wait only for the few written meanwhile and the fsync, 10-20 ms
  once per ``limit_bytes`` written (on SQLite's own busy handler instead of the lock, a ``RESTART``
  beside writes that never pause waited for a gap between them while the WAL went on growing);
- ``journal_size_limit`` is twice ``limit_bytes`` on every connection: a WAL started over under
  load keeps its file, and its frames are written over pages written seconds before, still cached.
  Cut to nothing there instead, the first commit after each ``RESTART`` cut the file itself, on
  the event loop and holding SQLite's write lock: every 256 MB, 50-100 ms without a create in any
  API process, which put the two-process create p99 at 70-120 ms.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Coroutine

from sqlalchemy.ext.asyncio import AsyncEngine

log = logging.getLogger("imagine_gateway.store")

EVERY = 500  # quick commits between two checkpoints under load
QUIET_S = 0.5  # how often the commits are counted for a calm moment
CALM_COMMITS = 25  # at most this many quick commits in QUIET_S (50 a second): calm, not load
FOLD_EVERY = 500  # commits of a trickle between two folds of its WAL
# A WAL holding more is started over, its file kept. Under a steady 3,400 creates a second (about
# 30 MB of frames) that is one RESTART every eight seconds.
LIMIT_BYTES = 256 * 1024 * 1024
FRAME_HEADER = 24  # bytes before each page in the WAL


class Checkpoints:
    """The checkpoints of one SQLite file's WAL, driven by the quick writes' commits."""

    def __init__(
        self,
        engine: AsyncEngine,
        write_lock: asyncio.Lock,
        *,
        every: int = EVERY,
        quiet_s: float = QUIET_S,
        limit_bytes: int = LIMIT_BYTES,
    ) -> None:
        self.engine = engine
        self.write_lock = write_lock  # the process's writers queue here (``Database.write``)
        self.every = every
        self.quiet_s = quiet_s
        self.limit_bytes = limit_bytes
        self._commits = 0
        self._seen = 0  # commits counted at the last look for a calm moment
        self._folded_at = 0  # commits when the WAL was last folded back whole
        self._calm: asyncio.TimerHandle | None = None
        self._calm_loop: asyncio.AbstractEventLoop | None = None
        self._running: asyncio.Task[None] | None = None
        self._page_size = 0
        self.restarts = 0  # RESTART checkpoints run (the WAL had passed its limit)

    def committed(self) -> None:
        """A quick write committed (on the event loop's thread)."""
        loop = asyncio.get_running_loop()
        self._commits += 1
        if self._commits % self.every == 0:
            self._start(self._checkpoint())
        if self._calm is None or self._calm_loop is not loop:  # (a timer of a loop since closed)
            self._look_in(self.quiet_s)

    def _look_in(self, delay: float) -> None:
        """Look for a calm moment in ``delay`` seconds."""
        loop = asyncio.get_running_loop()
        self._calm, self._calm_loop = loop.call_later(delay, self._when_calm), loop

    def _when_calm(self) -> None:
        self._calm = None
        recent, self._seen = self._commits - self._seen, self._commits
        since_fold = self._commits - self._folded_at
        if recent > CALM_COMMITS:  # still under load: look again later
            self._look_in(self.quiet_s)
        elif since_fold and (recent == 0 or since_fold >= FOLD_EVERY):
            if not self._start(self._folded_back(self._commits)):  # one is running: soon
                self._look_in(0.05)
        elif recent:  # a trickle: the next look is due when it has written enough
            self._look_in(self.quiet_s)

    def _start(self, checkpoint: Coroutine[None, None, None]) -> bool:
        """Start ``checkpoint`` unless one is running; whether it started."""
        loop = asyncio.get_running_loop()
        running = self._running
        if running is not None and not running.done() and running.get_loop() is loop:
            checkpoint.close()
            return False
        self._running = loop.create_task(checkpoint)
        return True

    async def _checkpoint(self) -> None:
        try:
            _busy, frames, page_size = await self._run("PASSIVE")
            if frames * (page_size + FRAME_HEADER) > self.limit_bytes:
                await self._run("PASSIVE")  # what was written during the first, still unlocked
                async with self.write_lock:
                    await self._run("RESTART")
                self.restarts += 1
        except Exception as exc:  # the next one will try again; the other connections checkpoint too
            log.warning("WAL checkpoint failed: %s", exc)

    async def _folded_back(self, commits: int) -> None:
        try:
            async with self.write_lock:
                busy, _frames, _page_size = await self._run("TRUNCATE")
            if not busy:
                self._folded_at = commits
            elif self._calm is None:  # a reader's snapshot kept it from the end: look again soon
                self._look_in(self.quiet_s)
        except Exception as exc:  # the next calm moment will try again
            log.warning("WAL checkpoint failed: %s", exc)

    async def _run(self, mode: str) -> tuple[bool, int, int]:
        """Run a checkpoint; whether it was kept from finishing (another connection's lock or
        snapshot), the frames the WAL holds since it last started over, and the page size."""
        async with self.engine.connect() as conn:
            await conn.execution_options(sqlite_begin="NONE")
            answer = tuple((await conn.exec_driver_sql(f"PRAGMA wal_checkpoint({mode})")).one())
            busy, frames = bool(answer[0]), int(answer[1])  # (busy, frames in the WAL, frames copied)
            if self._page_size == 0:
                self._page_size = int((await conn.exec_driver_sql("PRAGMA page_size")).scalar_one())
        return busy, max(frames, 0), self._page_size  # -1 frames: not in WAL mode

    async def close(self) -> None:
        if self._calm is not None:
            self._calm.cancel()
            self._calm = None
        if self._running is not None:
            await asyncio.gather(self._running, return_exceptions=True)
