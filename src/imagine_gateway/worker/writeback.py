"""Group commit for the worker's hot write-backs (schedule, state, provider, counters).

Thousands of tasks in flight mean thousands of small fenced updates a second (every pending poll
reschedules its task). One transaction each is bounded by the single SQLite writer and by the
event-loop hops every statement costs, so write-backs that arrive within ``linger_s`` of each other
are applied together: one transaction, one ``UPDATE ... CASE`` statement per set of columns, and
``RETURNING id`` says which rows still matched their fence. Each caller gets its own answer.
"""

from __future__ import annotations

import asyncio
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import case, cast, literal, tuple_, update

from imagine_gateway.core.states import ACTIVE
from imagine_gateway.store.db import Database
from imagine_gateway.store.records import Task
from imagine_gateway.store.tables import tasks

# Columns whose values are plain scalars, so a CASE over the row id can set them row by row.
BATCHABLE = frozenset(
    {
        "state",
        "provider",
        "upstream_id",
        "started_at",
        "updated_at",
        "next_run_at",
        "lease_owner",
        "lease_expires_at",
        "polls",
        "progress",
        "attempts",
        "submit_ambiguous",
    }
)
_ACTIVE = [s.value for s in ACTIVE]


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

    @staticmethod
    def accepts(values: dict[str, Any]) -> bool:
        return bool(values) and values.keys() <= BATCHABLE

    async def write(self, task: Task, values: dict[str, Any]) -> bool:
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
        groups: dict[frozenset[str], list[_Pending]] = defaultdict(list)
        for item in latest.values():
            groups[frozenset(item.values)].append(item)
        applied: set[tuple[str, int]] = set()
        async with self.db.write() as conn:
            for columns, items in groups.items():
                statement = _statement(columns, items).returning(tasks.c.id, tasks.c.fence)
                # Each batch has its own shape; caching them would only fill memory.
                result = await conn.execute(statement, execution_options={"compiled_cache": None})
                applied.update((row[0], row[1]) for row in result)
        self.flushes += 1
        return applied


def _statement(columns: frozenset[str], items: Sequence[_Pending]) -> Any:
    values: dict[str, Any] = {}
    for name in sorted(columns):
        column = tasks.c[name]
        distinct = {repr(item.values[name]) for item in items}
        if len(distinct) == 1:
            values[name] = items[0].values[name]
            continue
        whens = {item.task_id: cast(literal(item.values[name], column.type), column.type) for item in items}
        values[name] = case(whens, value=tasks.c.id, else_=column)
    keys = [(item.task_id, item.fence) for item in items]
    return (
        update(tasks)
        .where(tuple_(tasks.c.id, tasks.c.fence).in_(keys), tasks.c.state.in_(_ACTIVE))
        .values(**values)
    )
