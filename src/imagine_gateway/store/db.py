"""Database engines and transactions for SQLite (embedded) and PostgreSQL (scale-out)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine

from imagine_gateway.store.point_reads import PointReads


class Database:
    """Holds the engine and hands out read and write transactions.

    SQLite has one writer: write transactions start with ``BEGIN IMMEDIATE`` (so a read-then-write
    never meets a lock upgrade failure) and are serialised inside the process by an asyncio lock,
    which is cheaper than letting connections spin on ``busy_timeout``. PostgreSQL runs writes
    concurrently; correctness there comes from conditional updates and unique constraints.
    """

    def __init__(self, url: str, *, echo: bool = False) -> None:
        self.url = url
        self.is_sqlite = url.startswith("sqlite")
        kwargs: dict[str, Any] = {"echo": echo}
        if self.is_sqlite:
            path = make_url(url).database
            if path and path != ":memory:":
                Path(path).parent.mkdir(parents=True, exist_ok=True)
            kwargs["connect_args"] = {"timeout": 30}
        else:
            kwargs.update(pool_size=10, max_overflow=20, pool_pre_ping=True)
        self.engine: AsyncEngine = create_async_engine(url, **kwargs)
        self._write_lock = asyncio.Lock() if self.is_sqlite else None
        if self.is_sqlite:
            _tune_sqlite(self.engine)
        self.points = PointReads(url)  # single-row reads off SQLAlchemy's async path

    @asynccontextmanager
    async def write(self) -> AsyncIterator[AsyncConnection]:
        """A transaction that may write; committed on success, rolled back on error."""
        if self._write_lock is None:
            async with self.engine.begin() as conn:
                yield conn
            return
        async with self._write_lock, self.engine.connect() as conn:
            await conn.execution_options(sqlite_begin="IMMEDIATE")
            async with conn.begin():
                yield conn

    @asynccontextmanager
    async def read(self, *, snapshot: bool = False) -> AsyncIterator[AsyncConnection]:
        """A read-only connection; ``snapshot`` when several statements must see one state.

        On SQLite a plain read runs each statement on its own (no BEGIN/ROLLBACK round trips,
        which cost as much as the query itself through aiosqlite's thread hops).
        """
        async with self.engine.connect() as conn:
            if self.is_sqlite and not snapshot:
                await conn.execution_options(sqlite_begin="NONE")
            yield conn
            await conn.rollback()

    async def dispose(self) -> None:
        await self.points.close()
        await self.engine.dispose()


def _tune_sqlite(engine: AsyncEngine) -> None:
    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        # Let us issue BEGIN ourselves (pysqlite's implicit transactions would defer the lock).
        dbapi_conn.isolation_level = None
        cursor = dbapi_conn.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA busy_timeout=30000")
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
