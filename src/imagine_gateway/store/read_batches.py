"""Point reads on PostgreSQL that arrive together, answered by one statement.

Every poll of a task's status is one single-row read. On PostgreSQL each costs a round trip, a
connection taken from the pool and given back, and the server's own work per statement; under load
those costs are most of the read. Reads that reach ``fetch`` within one turn of the event loop (the
requests that arrived together) are queued by query and, on the next turn, fetched at once:
``WHERE <first key> = ANY($1)`` with every value asked for, then each caller's row picked out (its
other keys, such as the task's account, compared here). A caller waits at most one turn longer,
and sees a row at least as new as a read of its own would have.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any, Protocol

FetchMany = Callable[[str, Sequence[Any]], Awaitable[list[Sequence[Any]] | object]]


class BatchedQuery(Protocol):
    keys: Sequence[str]
    columns: list[str]
    postgres_any: str

    def row(self, values: Sequence[Any]) -> dict[str, Any]: ...


class ReadBatches:
    """Queues point reads by query; ``miss`` is what a caller gets when the statement failed."""

    def __init__(self, fetch_many: FetchMany, *, miss: object) -> None:
        self.fetch_many = fetch_many
        self.miss = miss
        self._queued: dict[BatchedQuery, list[tuple[Sequence[Any], asyncio.Future[Any]]]] = {}
        self._running: set[asyncio.Task[None]] = set()
        self.statements = 0  # how many statements answered the reads (fewer than the reads)

    async def fetch(self, query: BatchedQuery, params: Sequence[Any]) -> Mapping[str, Any] | object | None:
        loop = asyncio.get_running_loop()
        future: asyncio.Future[Any] = loop.create_future()
        queued = self._queued.get(query)
        if queued is None:
            queued = self._queued[query] = []
            loop.call_soon(self._start, query)
        queued.append((params, future))
        answer: Mapping[str, Any] | object | None = await future
        return answer

    def _start(self, query: BatchedQuery) -> None:
        batch = self._queued.pop(query, [])
        task = asyncio.get_running_loop().create_task(self._answer(query, batch))
        self._running.add(task)  # held until done, so it is not collected mid-run
        task.add_done_callback(self._running.discard)

    async def _answer(
        self, query: BatchedQuery, batch: list[tuple[Sequence[Any], asyncio.Future[Any]]]
    ) -> None:
        answers: list[Any] = [self.miss] * len(batch)  # also when this is stopped midway
        try:
            self.statements += 1
            found = await self.fetch_many(query.postgres_any, [list({p[0] for p, _ in batch})])
            if isinstance(found, list):
                first = query.columns.index(query.keys[0])
                rows: dict[Any, list[Sequence[Any]]] = {}
                for values in found:
                    rows.setdefault(values[first], []).append(values)
                answers = [_pick(query, rows.get(params[0], ()), params) for params, _ in batch]
        finally:
            for (_, future), answer in zip(batch, answers, strict=True):
                if not future.done():
                    future.set_result(answer)


def _pick(
    query: BatchedQuery, candidates: Sequence[Sequence[Any]], params: Sequence[Any]
) -> dict[str, Any] | None:
    """The row among ``candidates`` whose every key equals the caller's value, decoded."""
    for values in candidates:
        row = query.row(values)
        if all(row[key] == value for key, value in zip(query.keys, params, strict=True)):
            return row
    return None
