"""A group of creates' transaction on PostgreSQL, run on asyncpg itself (``Database.grouped``).

Through SQLAlchemy's asyncio layer every statement crosses the greenlet bridge and builds an
execution context; on PostgreSQL that was about half of a create's CPU, and the rows a group of
creates locks (its key's and account's) stay locked while the process spends it. A group takes a
connection of its own small pool, begins a transaction and runs each statement from a plan
(``store.prepared``): the hot statements' plans are made once, any other statement's is compiled
for its call. JSON is encoded by the columns' own converters and decoded by the connection's codec,
as SQLAlchemy's asyncpg dialect does, so rows and stored values are the same as on SQLAlchemy's
path; errors are SQLAlchemy's (``DBAPIError``).

The worker's claims and write-backs stay on SQLAlchemy's path. With connections terminated under
load (``tests/reliability/test_database_blips.py``), on this path some of the worker's submissions
ended as ambiguous (a write whose outcome the worker could not know), which they do not on
SQLAlchemy's. A group of creates is safe here: one that fails is rolled back whole, and its client
retries it with the same Idempotency-Key.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager, suppress
from typing import Any

from sqlalchemy.exc import DBAPIError, IntegrityError

from imagine_gateway.store.json_values import loads
from imagine_gateway.store.pg_new_tasks import NewTasks
from imagine_gateway.store.pg_pools import open_pool
from imagine_gateway.store.prepared import DirectResult, Plan, Plans

BEGIN_TRIES = 3
POOL_SIZE = 8  # the group commit's concurrent groups (``POSTGRES_GROUPS``), with room to spare


class PgConnection:
    """The slice of ``AsyncConnection`` a group of creates uses, over an asyncpg connection."""

    def __init__(self, raw: Any, plans: Plans, errors: tuple[type[Exception], type[Exception]]) -> None:
        self.raw = raw
        self.plans = plans
        self.dialect = plans.dialect
        self._errors = errors  # asyncpg's: any error of the server's, and a constraint's
        # The creates of a group run side by side (``group_commit``); the connection runs one
        # statement at a time, and their new tasks go in one (``pg_new_tasks``).
        self._turn = asyncio.Lock()
        self.new_tasks = NewTasks(self._fetch)

    async def execute(self, statement: Any, parameters: Any = None, **kwargs: Any) -> DirectResult:
        if kwargs:
            raise TypeError(f"a group of creates on PostgreSQL takes no execution options: {sorted(kwargs)}")
        given = {} if parameters is None else parameters
        plan = self.plans.get(statement, given) or self.plans.one_off(statement, given)
        if plan is None:
            raise TypeError(f"a group of creates on PostgreSQL cannot run this statement: {statement}")
        return await self._run(plan, given)

    async def scalar(self, statement: Any, parameters: Any = None, **kwargs: Any) -> Any:
        return (await self.execute(statement, parameters, **kwargs)).scalar()

    @asynccontextmanager
    async def _turn_of(self, sql: str, values: Any) -> AsyncIterator[None]:
        """The connection's turn for one statement, its errors raised as SQLAlchemy's."""
        async with self._turn:
            try:
                yield
            except self._errors[0] as exc:
                kind = IntegrityError if isinstance(exc, self._errors[1]) else DBAPIError
                raise kind(sql, values, exc) from exc

    async def _fetch(self, sql: str, values: list[Any]) -> list[tuple[Any, ...]]:
        async with self._turn_of(sql, values):
            return [tuple(r) for r in await self.raw.fetch(sql, *values)]

    async def _run(self, plan: Plan, given: Mapping[str, Any] | list[Mapping[str, Any]]) -> DirectResult:
        many = isinstance(given, list)
        values: Any = [plan.values(g) for g in given] if many else plan.values(given)  # type: ignore[arg-type]
        if plan.columns and not many:
            rows = await self._fetch(plan.sql, values)
            return DirectResult(len(rows), rows, plan.keys)
        async with self._turn_of(plan.sql, values):
            if many:
                await self.raw.executemany(plan.sql, values)
                return DirectResult(-1, [], plan.keys)
            status = await self.raw.execute(plan.sql, *values)
        count = status.rsplit(" ", 1)[-1]  # "UPDATE 3", "INSERT 0 1"
        return DirectResult(int(count) if count.isdigit() else -1, [], plan.keys)


class PgWriter:
    """The pool of asyncpg connections groups of creates run on, and their transactions."""

    def __init__(self, dsn: str, plans: Plans) -> None:
        self.dsn = dsn
        self.plans = plans
        self._pool: Any = None
        self._errors: tuple[type[Exception], type[Exception]] = (Exception, Exception)
        self._lock = asyncio.Lock()

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[PgConnection]:
        """A connection in a transaction: committed when the block ends, rolled back on an error.

        A connection the server ended while it sat in the pool (a restart, a terminated backend)
        fails its BEGIN, before any statement ran: another is taken (the pool reconnects closed
        ones), as SQLAlchemy's ping on checkout does.
        """
        pool = self._pool or await self._open()
        for attempt in range(BEGIN_TRIES):
            async with pool.acquire() as raw:
                begun = raw.transaction()
                try:
                    await begun.start()
                except Exception:
                    if attempt == BEGIN_TRIES - 1:
                        raise
                    continue
                try:
                    yield PgConnection(raw, self.plans, self._errors)
                except BaseException:
                    with suppress(Exception):  # the connection may be gone: its transaction with it
                        await begun.rollback()
                    raise
                await begun.commit()
                return

    async def _open(self) -> Any:
        import asyncpg  # type: ignore[import-untyped]  # here: a gateway on SQLite never loads it

        async with self._lock:
            if self._pool is None:
                self._errors = (asyncpg.PostgresError, asyncpg.IntegrityConstraintViolationError)
                self._pool = await open_pool(self.dsn, size=POOL_SIZE, init=_codecs)
            return self._pool

    async def close(self) -> None:
        if self._pool is not None:
            pool, self._pool = self._pool, None
            await pool.close()


async def _codecs(conn: Any) -> None:
    """JSON as SQLAlchemy's asyncpg dialect sets it up: the columns' converters write the text."""
    await conn.set_type_codec(
        "json", encoder=str.encode, decoder=lambda b: loads(b.decode()), schema="pg_catalog", format="binary"
    )
    await conn.set_type_codec(
        "jsonb",
        encoder=lambda s: b"\x01" + s.encode(),
        decoder=lambda b: loads(b[1:].decode()),
        schema="pg_catalog",
        format="binary",
    )
