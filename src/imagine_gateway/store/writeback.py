"""Group commit for the worker's write-backs (schedule, state, provider, counters, results).

``apply(update)`` is the worker's one way to write: an update that ends the task (and moves its
credits) runs in a transaction of its own through ``tasks.apply``; every other one joins a batch.

Thousands of tasks in flight mean thousands of small fenced updates a second (every pending poll
reschedules its task). One transaction each is bounded by the single SQLite writer and by the
event-loop hops every statement costs, so write-backs that arrive within ``linger_s`` of each other
are applied together, in one transaction: one ``SELECT id, fence`` says which rows still hold the
writer's fence (locked ``FOR UPDATE`` on PostgreSQL; SQLite's write transaction is exclusive
already), then one ``executemany`` ``UPDATE`` per set of columns writes those rows. The statements
are built once (per set of columns) with bound parameters, as the claim's are. Each caller gets its
own answer.
"""

from __future__ import annotations

import asyncio
import functools
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import bindparam, select, update

from imagine_gateway.core.records import Task
from imagine_gateway.core.states import ACTIVE
from imagine_gateway.core.updates import TaskUpdate
from imagine_gateway.store import tasks as task_store
from imagine_gateway.store.db import Database
from imagine_gateway.store.prepared import prepared
from imagine_gateway.store.tables import tasks

_ACTIVE = [s.value for s in ACTIVE]
_WRITABLE = frozenset(tasks.c.keys()) - {"id", "fence"}


@dataclass
class _Pending:
    task_id: str
    fence: int
    values: dict[str, Any]
    done: asyncio.Future[bool]
    renewal: bool = False


class WriteBatcher:
    """Applies fenced write-backs in groups; ``write`` answers whether this one took effect."""

    def __init__(self, db: Database, *, linger_s: float = 0.005, max_rows: int = 400) -> None:
        self.db = db
        self.linger_s = linger_s
        self.max_rows = max_rows
        self._queue: list[_Pending] = []
        self._flusher: asyncio.Task[None] | None = None
        self.flushes = 0

    async def apply(self, update: TaskUpdate) -> bool:
        """Apply a fenced update of a live task; whether it took effect."""
        if update.terminal or update.postings or not update.fenced:
            async with self.db.write() as conn:
                return await task_store.apply(conn, update)
        return await self.write(update.task, update.values())

    async def write(self, task: Task, values: dict[str, Any]) -> bool:
        """Apply ``values`` to the task if it is live and still holds ``task.fence``."""
        if not values or not values.keys() <= _WRITABLE:
            raise ValueError(f"not writable task columns: {sorted(set(values) - _WRITABLE)}")
        return await self._enqueue(_Pending(task.id, task.fence, values, self._future()))

    async def renew(self, held: Sequence[Task], *, until_ms: int) -> set[str]:
        """Extend the leases of ``held``, only while still leased: never after a step let its task go.

        One entry per task in the queue and one await for all of them (a keeper renews hundreds at
        once). Answers the ids whose lease was extended.
        """
        pending = [
            _Pending(t.id, t.fence, {"lease_expires_at": until_ms}, self._future(), renewal=True)
            for t in held
        ]
        if not pending:
            return set()
        self._queue.extend(pending)
        self._start_flusher()
        # Every outcome is collected (a failed flush fails each of its futures), then the first
        # failure is raised: none is left unretrieved.
        outcomes = await asyncio.gather(*(p.done for p in pending), return_exceptions=True)
        for outcome in outcomes:
            if isinstance(outcome, BaseException):
                raise outcome
        return {p.task_id for p, ok in zip(pending, outcomes, strict=True) if ok is True}

    @staticmethod
    def _future() -> asyncio.Future[bool]:
        return asyncio.get_running_loop().create_future()

    async def _enqueue(self, pending: _Pending) -> bool:
        self._queue.append(pending)
        self._start_flusher()
        return await pending.done

    def _start_flusher(self) -> None:
        if self._flusher is None or self._flusher.done():
            self._flusher = asyncio.create_task(self._flush_all())

    async def _flush_all(self) -> None:
        while self._queue:
            await asyncio.sleep(self.linger_s)
            batch, self._queue = self._queue[: self.max_rows], self._queue[self.max_rows :]
            try:
                applied = await self._apply(batch)
            except BaseException as exc:
                for item in batch:
                    if not item.done.done():
                        item.done.set_exception(exc)
                if not isinstance(exc, Exception):
                    raise
                continue
            for item in batch:
                if not item.done.done():
                    item.done.set_result(id(item) in applied)

    async def _apply(self, batch: Sequence[_Pending]) -> set[int]:
        """Write the batch; the ``id()`` of each pending write that took effect."""
        # Writes to one task (same claim) in one batch are merged in order, as if applied one by one.
        merged: dict[tuple[str, int], dict[str, Any]] = {}
        members: dict[tuple[str, int], list[_Pending]] = defaultdict(list)
        for item in batch:
            key = (item.task_id, item.fence)
            values = merged.setdefault(key, {})
            if item.renewal and values.get("lease_owner", "") is None:
                continue  # its step released the task earlier in this batch
            values.update(item.values)
            members[key].append(item)
        # Quick: at most max_rows rows, so on SQLite it runs on the loop's thread.
        async with self.db.write(quick=True) as conn:
            ids = sorted({task_id for task_id, _ in merged})
            live = await conn.execute(_live_statement(lock=not self.db.is_sqlite), {"w_ids": ids})
            rows = {(r[0], r[1]): r[2] for r in live}
            groups: dict[frozenset[str], list[tuple[str, dict[str, Any]]]] = defaultdict(list)
            applied: set[int] = set()
            for key, items in members.items():
                if key not in rows:
                    continue  # ended, or claimed again by someone else (fence moved)
                if all(i.renewal for i in items) and rows[key] is None:
                    continue  # released in an earlier batch: a late renewal must not re-lease it
                groups[frozenset(merged[key])].append((key[0], merged[key]))
                applied.update(id(i) for i in items)
            for columns, writes in groups.items():
                await conn.execute(
                    _update(columns),
                    [
                        {"w_id": task_id, **{f"w_{k}": v for k, v in values.items()}}
                        for task_id, values in writes
                    ],
                )
        self.flushes += 1
        return applied


@functools.cache
def _live_statement(*, lock: bool) -> Any:
    """Which of the ``w_ids`` rows are live, with their fence and lease owner."""
    live = select(tasks.c.id, tasks.c.fence, tasks.c.lease_owner).where(
        tasks.c.id.in_(bindparam("w_ids", expanding=True)), tasks.c.state.in_(_ACTIVE)
    )
    if lock:
        # Locked in id order, so two batches that share rows (a stale writer's and the owner's)
        # wait for each other instead of deadlocking.
        live = live.order_by(tasks.c.id).with_for_update()
    return prepared(live)  # a plan for each length of the id list


@functools.lru_cache(maxsize=64)
def _update(columns: frozenset[str]) -> Any:
    """``UPDATE tasks SET <columns> WHERE id = ?``, for executemany (rows were checked under lock)."""
    return prepared(
        update(tasks)
        .where(tasks.c.id == bindparam("w_id"))
        .values({name: bindparam(f"w_{name}", type_=tasks.c[name].type) for name in sorted(columns)})
    )
