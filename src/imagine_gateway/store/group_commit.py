"""Group commit of quick write transactions: concurrent creates share one transaction.

A create's transaction is a handful of statements on indexed rows. What it costs beyond its
statements is the transaction itself: on SQLite (where it runs on the event loop's thread,
``loop_writes``) taking a connection, ``BEGIN IMMEDIATE`` and the commit that appends to the WAL, a
third of a create's CPU; on PostgreSQL the round trips of BEGIN and COMMIT, and the wait on the
account's row, which every create of that account updates and holds locked until it commits.
Requests that arrive together (a client's burst, many clients at once) reach their transaction
within one turn of the event loop, so ``run`` queues each one's work and, on the next turn, runs
everything queued in one transaction; what arrives while ``max_flushes`` groups are running waits
for the next group (one at a time on SQLite, whose writer is single anyway; a few on PostgreSQL,
so that creates of different accounts still run side by side). A group beyond the first starts
only once ``extra_group_min`` works wait for one: a transaction costs about as much CPU as the
statements of several creates, so on a busy server fewer, larger groups serve more creates than
many small ones, and two groups of one account's creates queue on its row all the same. With
fewer waiting, they wait for a running group to end and then go together.

Each work still succeeds or fails alone. The group is optimistic: when every work in it succeeds
the group commits once and each caller gets its own answer; when one raises (the balance is short,
a cap is reached, an idempotency conflict), the whole group is rolled back and each work runs
again in a transaction of its own, so the one that failed fails alone and the others commit. A
work must therefore be safe to run again: statements only, its values decided by what it reads.
Nobody is answered before the commit that holds their write. With ``side_by_side`` (PostgreSQL)
the works of a group run concurrently on its connection, one statement at a time, so that their
new tasks go in one statement (``pg_new_tasks``); a work then takes no savepoint, which would hold
the others' statements too. The creates' reservations are posted together at the end of the
group, one update of each key and account (``postings``); when a sum does not fit, the group
fails like any other and each create runs again alone.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from contextlib import AbstractAsyncContextManager
from typing import Any, TypeVar

from sqlalchemy.ext.asyncio import AsyncConnection

from imagine_gateway.store.postings import Postings

T = TypeVar("T")
# A work's statements run on the connection; the postings it adds are posted together with the
# rest of its transaction's, just before the commit (``postings``).
Work = Callable[[AsyncConnection, Postings], Awaitable[T]]
MAX_GROUP = 64  # bounds how long one transaction holds the loop


class GroupCommit:
    """Runs works in shared transactions (``enabled``) or each in its own."""

    def __init__(
        self,
        begin: Callable[[], AbstractAsyncContextManager[AsyncConnection]],
        *,
        enabled: bool,
        max_flushes: int = 1,
        extra_group_min: int = 1,
        side_by_side: bool = False,
    ) -> None:
        self.begin = begin
        self.enabled = enabled
        self.side_by_side = side_by_side
        self.max_flushes = max_flushes
        self.extra_group_min = extra_group_min
        self._queue: list[tuple[Work[Any], asyncio.Future[Any]]] = []
        self._flushes: set[asyncio.Task[None]] = set()
        self._scheduled = False
        self.groups = 0  # transactions that committed more than one work
        self.retried = 0  # groups rolled back and run again one by one

    async def run(self, work: Work[T]) -> T:
        """``work``'s result once the transaction that ran it has committed."""
        if not self.enabled:
            return await self._alone(work)
        loop = asyncio.get_running_loop()
        future: asyncio.Future[T] = loop.create_future()
        self._queue.append((work, future))
        if not self._scheduled:
            self._scheduled = True
            loop.call_soon(self._start_flushes)
        return await future

    async def _alone(self, work: Work[T]) -> T:
        async with self.begin() as conn:
            postings = Postings()
            result = await work(conn, postings)
            await postings.post(conn)
            return result

    async def _run_works(
        self, works: list[Work[Any]], conn: AsyncConnection, postings: Postings
    ) -> list[Any]:
        if not self.side_by_side:
            return [await work(conn, postings) for work in works]
        # Every work ends before the transaction does, even when one of them failed.
        results = await asyncio.gather(*(work(conn, postings) for work in works), return_exceptions=True)
        for result in results:
            if isinstance(result, BaseException):
                raise result
        return results

    def _start_flushes(self) -> None:
        """Start a flush of what is queued while fewer than ``max_flushes`` run (beside a running
        one, only of ``extra_group_min`` works or more); what arrives meanwhile waits for the next
        one, and so joins a larger group."""
        self._scheduled = False
        while self._queue and len(self._flushes) < self.max_flushes:
            if self._flushes and len(self._queue) < self.extra_group_min:
                break  # started again when a running flush ends (``_flush_done``)
            batch, self._queue = self._queue[:MAX_GROUP], self._queue[MAX_GROUP:]
            flush = asyncio.get_running_loop().create_task(self._flush(batch))
            self._flushes.add(flush)  # held until done, so it is not collected mid-run
            flush.add_done_callback(self._flush_done)

    def _flush_done(self, flush: asyncio.Task[None]) -> None:
        self._flushes.discard(flush)
        if self._queue and not self._scheduled:
            self._scheduled = True
            asyncio.get_running_loop().call_soon(self._start_flushes)

    async def _flush(self, batch: list[tuple[Work[Any], asyncio.Future[Any]]]) -> None:
        try:
            await self._run_batch(batch)
        finally:  # stopped midway (the loop shutting down): nobody may wait for ever
            for _, future in batch:
                if not future.done():
                    future.cancel()

    async def _run_batch(self, batch: list[tuple[Work[Any], asyncio.Future[Any]]]) -> None:
        if len(batch) > 1:
            try:
                async with self.begin() as conn:
                    postings = Postings()
                    results = await self._run_works([work for work, _ in batch], conn, postings)
                    await postings.post(conn)
            except Exception:
                self.retried += 1  # one of them failed: each runs alone below, so it fails alone
            else:
                self.groups += 1
                for (_, future), result in zip(batch, results, strict=True):
                    if not future.done():
                        future.set_result(result)
                return
        for work, future in batch:
            try:
                result = await self._alone(work)
            except Exception as exc:
                if not future.done():
                    future.set_exception(exc)
            else:
                if not future.done():
                    future.set_result(result)
