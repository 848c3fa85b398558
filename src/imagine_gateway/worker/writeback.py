"""Group commit for the worker's write-backs (schedule, state, provider, counters, results).

Thousands of tasks in flight mean thousands of small fenced updates a second (every pending poll
reschedules its task). One transaction each is bounded by the single SQLite writer and by the
event-loop hops every statement costs, so write-backs that arrive within ``linger_s`` of each other
are applied together, in one transaction: one ``SELECT id, fence`` says which rows still hold the
writer's fence (locked ``FOR UPDATE`` on PostgreSQL; SQLite's write transaction is exclusive
already), then one ``executemany`` ``UPDATE`` per set of columns writes those rows. The statements
have the same shape every time, so SQLAlchemy compiles them once. Each caller gets its own answer.
"""

from __future__ import annotations

import asyncio
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import bindparam, select, update

from imagine_gateway.core.states import ACTIVE
from imagine_gateway.store.db import Database
from imagine_gateway.store.records import Task
from imagine_gateway.store.tables import tasks

_ACTIVE = [s.value for s in ACTIVE]
_WRITABLE = frozenset(tasks.c.keys()) - {"id", "fence"}


@dataclass
class _Pending:
    task_id: str
    fence: int
    values: dict[str, Any]
    done: asyncio.Future[bool]


class WriteBatcher:
    """Applies fenced write-backs in groups; ``write`` answers whether this one took effect."""

    def __init__(self, db: Database, *, linger_s: float = 0.005, max_rows: int = 400) -> None:
        self.db = db
        self.linger_s = linger_s
        self.max_rows = max_rows
        self._queue: list[_Pending] = []
        self._flusher: asyncio.Task[None] | None = None
        self.flushes = 0

    async def write(self, task: Task, values: dict[str, Any]) -> bool:
        """Apply ``values`` to the task if it is live and still holds ``task.fence``."""
        if not values or not values.keys() <= _WRITABLE:
            raise ValueError(f"not writable task columns: {sorted(set(values) - _WRITABLE)}")
        done: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
        self._queue.append(_Pending(task.id, task.fence, values, done))
        if self._flusher is None or self._flusher.done():
            self._flusher = asyncio.create_task(self._flush_all())
        return await done

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
                    item.done.set_result((item.task_id, item.fence) in applied)

    async def _apply(self, batch: Sequence[_Pending]) -> set[tuple[str, int]]:
        # A task written twice in one batch keeps its last write (the first would be overwritten).
        latest: dict[str, _Pending] = {}
        for item in batch:
            latest[item.task_id] = item
        async with self.db.write() as conn:
            live = select(tasks.c.id, tasks.c.fence).where(
                tasks.c.id.in_(list(latest)), tasks.c.state.in_(_ACTIVE)
            )
            if not self.db.is_sqlite:
                live = live.with_for_update()
            fences: dict[str, int] = {r[0]: r[1] for r in await conn.execute(live)}
            groups: dict[frozenset[str], list[_Pending]] = defaultdict(list)
            for item in latest.values():
                if fences.get(item.task_id) == item.fence:
                    groups[frozenset(item.values)].append(item)
            for columns, items in groups.items():
                await conn.execute(
                    _update(columns),
                    [{"w_id": i.task_id, **{f"w_{k}": v for k, v in i.values.items()}} for i in items],
                )
        self.flushes += 1
        return {(i.task_id, i.fence) for items in groups.values() for i in items}


def _update(columns: frozenset[str]) -> Any:
    """``UPDATE tasks SET <columns> WHERE id = ?``, for executemany (rows were checked under lock)."""
    return (
        update(tasks)
        .where(tasks.c.id == bindparam("w_id"))
        .values({name: bindparam(f"w_{name}", type_=tasks.c[name].type) for name in sorted(columns)})
    )
