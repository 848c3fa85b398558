"""Database engines and transactions for SQLite (embedded) and PostgreSQL (scale-out)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from pathlib import Path
from typing import Any, cast

from sqlalchemy import event
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine

from imagine_gateway.store.group_commit import GroupCommit, T, Work
from imagine_gateway.store.json_values import loads
from imagine_gateway.store.loop_writes import LoopConnection, LoopWriter, loop_engine
from imagine_gateway.store.pg_writes import PgWriter
from imagine_gateway.store.point_reads import PointReads
from imagine_gateway.store.prepared import Plans
from imagine_gateway.store.wal_checkpoints import EVERY, LIMIT_BYTES, Checkpoints

log = logging.getLogger("imagine_gateway.store")
# Group commits in flight at once on PostgreSQL: enough for creates of different accounts to run side
# by side, few enough that those of one account do not queue on its row's lock (``group_commit``);
# a group beside a running one starts only with this many creates (fewer wait and go together).
POSTGRES_GROUPS = 4
POSTGRES_EXTRA_GROUP_MIN = 8
QUICK_LOCK_TRIES = 20  # a quick write waits this many milliseconds for another process's lock


class Database:
    """Holds the engine and hands out read and write transactions.

    SQLite has one writer: write transactions start with ``BEGIN IMMEDIATE`` (so a read-then-write
    never meets a lock upgrade failure) and are serialised inside the process by an asyncio lock,
    which is cheaper than letting connections spin on ``busy_timeout``. PostgreSQL runs writes
    concurrently; correctness there comes from conditional updates and unique constraints.
    """

    def __init__(
        self,
        url: str,
        *,
        echo: bool = False,
        wal_limit_bytes: int = LIMIT_BYTES,
        checkpoint_every: int = EVERY,
    ) -> None:
        self.url = url
        self.is_sqlite = url.startswith("sqlite")
        kwargs: dict[str, Any] = {"echo": echo, "json_deserializer": loads}
        if self.is_sqlite:
            path = make_url(url).database
            if path and path != ":memory:":
                Path(path).parent.mkdir(parents=True, exist_ok=True)
            kwargs["connect_args"] = {"timeout": 30}
        else:
            kwargs.update(pool_size=10, max_overflow=20, pool_pre_ping=True)
        self.engine: AsyncEngine = create_async_engine(url, **kwargs)
        self._write_lock = asyncio.Lock() if self.is_sqlite else None
        # A WAL started over under load keeps its file (``wal_checkpoints``): only one that grew to
        # twice its limit, which the checkpoints keep it from, is cut back by the commit after.
        kept_bytes = 2 * wal_limit_bytes
        if self.is_sqlite:
            _tune_sqlite(self.engine, journal_size_limit=kept_bytes)
        self.points = PointReads(url)  # single-row reads off SQLAlchemy's async path
        self._loop_engine = loop_engine(url, journal_size_limit=kept_bytes) if self.is_sqlite else None
        self.plans = Plans((self._loop_engine or self.engine).dialect)
        self._loop_writer = LoopWriter(self._loop_engine, self.plans) if self._loop_engine else None
        parsed = make_url(url)
        self._pg_writer = (
            PgWriter(parsed.set(drivername="postgresql").render_as_string(hide_password=False), self.plans)
            if parsed.drivername == "postgresql+asyncpg"
            else None
        )
        self.checkpoints = (
            Checkpoints(
                self.engine,
                self._write_lock,
                every=checkpoint_every,
                limit_bytes=wal_limit_bytes,
            )
            if self._loop_engine is not None and self._write_lock is not None
            else None
        )
        self.group_commit = GroupCommit(
            self._group_transaction,
            enabled=self._loop_engine is not None or not self.is_sqlite,
            max_flushes=1 if self.is_sqlite else POSTGRES_GROUPS,
            extra_group_min=1 if self.is_sqlite else POSTGRES_EXTRA_GROUP_MIN,
            side_by_side=self._pg_writer is not None,
        )

    def _group_transaction(self) -> AbstractAsyncContextManager[AsyncConnection]:
        """A group of creates' transaction: a quick write; on PostgreSQL on asyncpg itself
        (``pg_writes``), off SQLAlchemy's asyncio layer, so the rows it locks are held for less."""
        if self._pg_writer is not None:
            return cast(AbstractAsyncContextManager[AsyncConnection], self._pg_writer.transaction())
        return self.write(quick=True)

    async def grouped(self, work: Work[T]) -> T:
        """``work`` (quick statements, safe to run again) in a write transaction it may share with
        others that arrive with it; its result once that transaction committed (``group_commit``)."""
        return await self.group_commit.run(work)

    @asynccontextmanager
    async def write(self, *, quick: bool = False) -> AsyncIterator[AsyncConnection]:
        """A transaction that may write; committed on success, rolled back on error.

        ``quick``: statements on indexed rows whose work is bounded, with nothing awaited in between
        but the statements (a group of creates, the worker's claim of a batch, a batch of its
        write-backs: a few milliseconds at most). On SQLite it runs on the event loop's thread
        (``loop_writes``), which is cheaper than every statement's hand-offs to aiosqlite's thread
        while the process's write lock is held across them.
        """
        if self._write_lock is None:
            async with self.engine.begin() as conn:
                yield conn
            return
        async with self._write_lock:
            writer = self._loop_writer if quick else None
            begun = await self._loop_begin_soon(writer) if writer is not None else None
            if writer is not None and begun is not None:
                try:
                    # The store's functions take it as the AsyncConnection they expect.
                    yield cast(AsyncConnection, begun)
                except BaseException:
                    writer.rollback()
                    raise
                writer.commit()
                if self.checkpoints is not None:
                    self.checkpoints.committed()
                return
            async with self.engine.connect() as conn:
                await conn.execution_options(sqlite_begin="IMMEDIATE")
                async with conn.begin():
                    yield conn

    async def _loop_begin_soon(self, writer: LoopWriter) -> LoopConnection | None:
        """The loop's connection in a write transaction, asked again every millisecond for a while
        when another process holds the write lock (a second API process's quick write takes about
        that long): SQLite's own busy handler, on the ordinary path, sleeps in steps growing to
        100 ms. None: the ordinary path then waits for the lock, off the loop."""
        for _ in range(QUICK_LOCK_TRIES):
            begun = writer.begin()
            if begun is not None:
                return begun
            await asyncio.sleep(0.001)
        return None

    @asynccontextmanager
    async def read(self, *, snapshot: bool = False) -> AsyncIterator[AsyncConnection]:
        """A read-only connection; ``snapshot`` when several statements must see one state.

        On SQLite a plain read runs each statement on its own (no BEGIN/ROLLBACK round trips,
        which cost as much as the query itself through aiosqlite's thread hops), and a snapshot is
        its read transaction. On PostgreSQL a snapshot is a REPEATABLE READ transaction: under the
        default READ COMMITTED every statement would see what committed before it, so a balance
        and the ledger summed a moment later could disagree.
        """
        async with self.engine.connect() as conn:
            if self.is_sqlite and not snapshot:
                await conn.execution_options(sqlite_begin="NONE")
            elif snapshot and not self.is_sqlite:
                await conn.execution_options(isolation_level="REPEATABLE READ")
            yield conn
            await conn.rollback()

    async def dispose(self) -> None:
        if self.checkpoints is not None:
            await self.checkpoints.close()
        await self.points.close()
        if self._loop_writer is not None:
            self._loop_writer.close()
        if self._pg_writer is not None:
            await self._pg_writer.close()
        if self._loop_engine is not None:
            self._loop_engine.dispose()
        await self.engine.dispose()


def _tune_sqlite(engine: AsyncEngine, *, journal_size_limit: int) -> None:
    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        # Let us issue BEGIN ourselves (pysqlite's implicit transactions would defer the lock).
        dbapi_conn.isolation_level = None
        cursor = dbapi_conn.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.execute(f"PRAGMA journal_size_limit={int(journal_size_limit)}")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.close()

    @event.listens_for(engine.sync_engine, "begin")
    def _on_begin(conn: Any) -> None:
        # Writers take the lock up front (IMMEDIATE); readers use a deferred snapshot.
        mode = conn.get_execution_options().get("sqlite_begin", "")
        if mode != "NONE":
            conn.exec_driver_sql(f"BEGIN {mode}".strip())


def sync_url(url: str) -> str:
    """The synchronous driver URL for Alembic."""
    u = make_url(url)
    driver = {"sqlite+aiosqlite": "sqlite", "postgresql+asyncpg": "postgresql+psycopg"}.get(
        u.drivername, u.drivername
    )
    return u.set(drivername=driver).render_as_string(hide_password=False)
