"""When the quick writes' WAL is folded back into the SQLite file, so that it never grows unbounded.

The quick writes' connection never checkpoints itself (``loop_writes``: the step that fsyncs stays
off the event loop). A passive checkpoint on aiosqlite's thread every ``every`` commits copies
what it can without waiting for anyone, but under a steady stream of writes it never reaches the
WAL's end, and SQLite starts the WAL over only after a checkpoint that did. Without more, the file
grew through a benchmark's minutes of creates to 800 MB beside a 33 MB database, without bound,
and every page read looks in the WAL's index first, which grows with it. So:

- once the writes pause (``quiet_s`` without a commit) a passive checkpoint runs; with no writer it
  reaches the end, and the next write starts the WAL from its beginning;
- when the WAL holds more than ``limit_bytes`` of frames all the same (writes that never pause:
  the passive checkpoint says how many), a ``RESTART`` follows it, run while this process's write
  lock is held: no write of this process can slip in before it, its readers are done within
  milliseconds, and the next write starts the WAL over. Two passive checkpoints have copied nearly
  every frame, so the writes wait only for the few written meanwhile and the fsync, 10-20 ms
  once per ``limit_bytes`` written (on SQLite's own busy handler instead of the lock, a ``RESTART``
  beside writes that never pause waited for a gap between them while the WAL went on growing);
- ``journal_size_limit`` is 0 on every connection (``KEPT_BYTES``): a WAL started over is cut to
  nothing, so new frames extend the file instead of being written over its old pages. A frame
  does not fill whole pages of the OS's cache, so writing over an old page the OS has dropped
  first reads it from the disk, inside the commit; a machine that reclaims idle page cache drops
  most of a 256 MB WAL within a minute. Kept at 256 MB, creates after a 40 s pause read about
  100 MB from the disk in a 10 s cell and served a quarter fewer a second, at twice the p99.
"""

from __future__ import annotations

import asyncio
import logging

from sqlalchemy.ext.asyncio import AsyncEngine

log = logging.getLogger("imagine_gateway.store")

EVERY = 500  # quick commits between two checkpoints under load
QUIET_S = 0.5  # without a quick commit: the writes paused, and the WAL can be folded back whole
# A WAL holding more is started over (and its file cut to ``KEPT_BYTES``). Under a steady 3,400
# creates a second (about 30 MB of frames) that is one RESTART every eight seconds.
LIMIT_BYTES = 256 * 1024 * 1024
FRAME_HEADER = 24  # bytes before each page in the WAL
KEPT_BYTES = 0  # of a WAL started over, on disk (``journal_size_limit``; see above)


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
        self._last_commit = 0.0
        self._quiet: asyncio.TimerHandle | None = None
        self._quiet_loop: asyncio.AbstractEventLoop | None = None
        self._running: asyncio.Task[None] | None = None
        self._page_size = 0
        self.restarts = 0  # RESTART checkpoints run (the WAL had passed its limit)

    def committed(self) -> None:
        """A quick write committed (on the event loop's thread)."""
        loop = asyncio.get_running_loop()
        self._commits += 1
        self._last_commit = loop.time()
        if self._commits % self.every == 0:
            self._start()
        if self._quiet is None or self._quiet_loop is not loop:  # (a timer of a loop since closed)
            self._quiet, self._quiet_loop = loop.call_later(self.quiet_s, self._when_quiet), loop

    def _when_quiet(self) -> None:
        self._quiet = None
        loop = asyncio.get_running_loop()
        waited = loop.time() - self._last_commit
        if waited < self.quiet_s or not self._start():
            # Not quiet yet, or a checkpoint is still running: look again later.
            self._quiet = loop.call_later(max(self.quiet_s - waited, 0.05), self._when_quiet)

    def _start(self) -> bool:
        """Start a checkpoint unless one is running; whether one started."""
        loop = asyncio.get_running_loop()
        running = self._running
        if running is not None and not running.done() and running.get_loop() is loop:
            return False
        self._running = loop.create_task(self._checkpoint())
        return True

    async def _checkpoint(self) -> None:
        try:
            frames, page_size = await self._run("PASSIVE")
            if frames * (page_size + FRAME_HEADER) > self.limit_bytes:
                await self._run("PASSIVE")  # what was written during the first, still unlocked
                async with self.write_lock:
                    await self._run("RESTART")
                self.restarts += 1
        except Exception as exc:  # the next one will try again; the other connections checkpoint too
            log.warning("WAL checkpoint failed: %s", exc)

    async def _run(self, mode: str) -> tuple[int, int]:
        """Run a checkpoint; the frames the WAL holds since it last started over, and the page size."""
        async with self.engine.connect() as conn:
            await conn.execution_options(sqlite_begin="NONE")
            answer = tuple((await conn.exec_driver_sql(f"PRAGMA wal_checkpoint({mode})")).one())
            frames = int(answer[1])  # (busy, frames in the WAL, frames copied)
            if self._page_size == 0:
                self._page_size = int((await conn.exec_driver_sql("PRAGMA page_size")).scalar_one())
        return max(frames, 0), self._page_size  # -1 frames: not in WAL mode

    async def close(self) -> None:
        if self._quiet is not None:
            self._quiet.cancel()
            self._quiet = None
        if self._running is not None:
            await asyncio.gather(self._running, return_exceptions=True)
