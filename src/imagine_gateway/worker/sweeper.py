"""Retention: remove uploads and task results whose time is up.

Uploads (and fetched reference copies) past ``expires_at`` lose their blob and then their row. Results
of succeeded tasks past the task's ``expires_at`` lose their blobs (media and posters); the task keeps
its metadata, with ``result["expired"] = True``, so clients see ``expired: true`` rather than a 404.
Blobs go before rows, so a crash in between leaves a row that the next sweep finishes. Idempotency
keys past their retention are deleted too (a key may be used again once its record expired).

Faults leave files that no row points at; each sweep also removes those once older than
``temp_max_age_s``: temp files of writes that never finished (a crash or a full disk mid-put, in the
local storage's ``.tmp`` and in the work directories of uploads and collects), and on local storage
the results directory of a task that failed, was canceled or no longer exists. (On S3 an upload
that never finished is a multipart upload: the bucket's lifecycle rule for incomplete multipart
uploads removes it.) Any
number of processes may sweep at once: deleting a missing blob is not an error and every row change
is conditional.

    sweeper = Sweeper(db=db, storage=storage, clock=clock)
    stats = await sweeper.sweep_once()    # SweepStats(files_removed=3, results_expired=1, ...)
    await sweeper.run(stop)               # every interval_s until stop is set
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from anyio import to_thread

from imagine_gateway.core.clock import Clock
from imagine_gateway.core.results import result_keys
from imagine_gateway.media.storage import LocalStorage, Storage
from imagine_gateway.media.storage.local import remove_old_files
from imagine_gateway.store import files as file_store
from imagine_gateway.store import idempotency
from imagine_gateway.store import tasks as task_store
from imagine_gateway.store.db import Database

log = logging.getLogger("imagine_gateway.sweeper")

SWEEP_INTERVAL_S = 60.0
SWEEP_BATCH = 200
TEMP_MAX_AGE_S = 3600.0
"""Longer than any write takes; a temp file older than this belongs to a write that died."""
_ENDED_WITHOUT_RESULT = frozenset({"failed", "canceled"})


@dataclass(frozen=True)
class SweepStats:
    """What one sweep removed."""

    files_removed: int = 0
    results_expired: int = 0
    idempotency_keys_removed: int = 0
    temp_files_removed: int = 0
    orphans_removed: int = 0


class Sweeper:
    """Deletes expired uploads and result blobs in batches, and expired idempotency keys."""

    def __init__(
        self,
        *,
        db: Database,
        storage: Storage,
        clock: Clock,
        interval_s: float = SWEEP_INTERVAL_S,
        batch: int = SWEEP_BATCH,
        temp_max_age_s: float = TEMP_MAX_AGE_S,
        work_files: Sequence[tuple[Path, str]] = (),
    ) -> None:
        self.temp_max_age_s = temp_max_age_s
        # (directory, name prefix) of the work files uploads and collects write beside storage
        self.work_files = tuple(work_files)
        self.db = db
        self.storage = storage
        self.clock = clock
        self.interval_s = interval_s
        self.batch = batch

    async def sweep_once(self) -> SweepStats:
        """Remove everything that is due now, batch after batch."""
        files_removed = results_expired = 0
        while True:
            removed = await self._sweep_files()
            expired = await self._sweep_results()
            files_removed += removed
            results_expired += expired
            if removed < self.batch and expired < self.batch:
                break
        async with self.db.write() as conn:
            keys_removed = await idempotency.purge_expired(conn, now_ms=self.clock.now_ms())
        temp_removed, orphans = await self._sweep_leftovers()
        return SweepStats(files_removed, results_expired, keys_removed, temp_removed, orphans)

    async def _sweep_leftovers(self) -> tuple[int, int]:
        """Temp files of writes that died, and results of tasks that ended without them."""
        before = self.clock.now_ms() - int(self.temp_max_age_s * 1000)
        temp = 0
        for directory, prefix in self.work_files:
            temp += await to_thread.run_sync(remove_old_files, directory, before, prefix)
        if not isinstance(self.storage, LocalStorage):
            return temp, 0
        temp += await self.storage.remove_stale_temp(older_than_ms=before)
        names = await self.storage.groups("results")
        orphans = 0
        for start in range(0, len(names), self.batch):
            chunk = names[start : start + self.batch]
            async with self.db.read() as conn:
                states = await task_store.states_of(conn, chunk)
            for task_id in chunk:
                if task_id in states and states[task_id] not in _ENDED_WITHOUT_RESULT:
                    continue
                changed = await self.storage.group_changed_ms(f"results/{task_id}")
                if changed is not None and changed < before:
                    await self.storage.delete_group(f"results/{task_id}")
                    orphans += 1
        return temp, orphans

    async def _sweep_files(self) -> int:
        async with self.db.read() as conn:
            due = await file_store.expired_files(conn, now_ms=self.clock.now_ms(), limit=self.batch)
        removed = 0
        for record in due:
            await self.storage.delete(record.storage_key)
            async with self.db.write() as conn:
                removed += await file_store.delete_file(conn, record.id)
        return removed

    async def _sweep_results(self) -> int:
        now = self.clock.now_ms()
        async with self.db.read() as conn:
            due = await file_store.expired_results(conn, now_ms=now, limit=self.batch)
        expired = 0
        for task in due:
            for key in result_keys(task.result):
                await self.storage.delete(key)
            async with self.db.write() as conn:
                expired += await file_store.mark_result_expired(conn, task, now_ms=now)
        return expired

    async def run(self, stop: asyncio.Event) -> None:
        """Sweep now and then every ``interval_s`` until ``stop`` is set; errors are logged, not fatal."""
        while not stop.is_set():
            try:
                stats = await self.sweep_once()
                if any(vars(stats).values()):
                    log.info(
                        "retention sweep removed %d files, %d results, %d idempotency keys, "
                        "%d temp files and %d orphaned result directories",
                        stats.files_removed,
                        stats.results_expired,
                        stats.idempotency_keys_removed,
                        stats.temp_files_removed,
                        stats.orphans_removed,
                    )
            except Exception:  # keep sweeping through a database or storage hiccup
                log.exception("retention sweep failed")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=self.interval_s)
