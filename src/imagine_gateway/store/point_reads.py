"""One row by its key, on the shortest path each database offers: the status read's hot path.

Through SQLAlchemy's async layer a single-row read on SQLite is about fifteen hand-offs between the
event loop and aiosqlite's thread, and on PostgreSQL a trip through the greenlet bridge; either
costs more than the query. Here:

- **SQLite**: a read-only ``sqlite3`` connection of this process runs the statement on the event
  loop's thread. In WAL mode a reader never waits for a writer, and a primary-key lookup takes tens
  of microseconds, less than one hand-off to a thread. ``busy_timeout`` is 0, so the loop can never
  block: the rare read that meets a lock (a checkpoint, the WAL being recovered) returns ``MISS``
  and the caller takes the ordinary path.
- **PostgreSQL**: a small asyncpg pool of its own (prepared statements, no ORM, no greenlet). A
  failure returns ``MISS`` too, so the ordinary path reports the database's trouble as it always did.

The statements are plain SQL with the column list of ``tables``; JSON columns come back decoded.
"""

from __future__ import annotations

import asyncio
import json
import logging
import sqlite3
from collections.abc import Mapping, Sequence
from typing import Any, Final
from urllib.parse import quote

from sqlalchemy import JSON
from sqlalchemy.engine import make_url

from imagine_gateway.store.tables import accounts, api_keys, tasks

log = logging.getLogger("imagine_gateway.store")
MISS: Final = object()  # "not served here": the caller reads through SQLAlchemy instead
POOL_SIZE = 8


def _json_columns(table: Any) -> frozenset[str]:
    return frozenset(c.name for c in table.columns if isinstance(c.type, JSON))


class PointQuery:
    """``SELECT <every column> FROM table WHERE a = ? AND b = ?`` in both databases' placeholders."""

    def __init__(self, table: Any, keys: Sequence[str]) -> None:
        self.columns = [c.name for c in table.columns]
        self.json_columns = _json_columns(table)
        select = f"SELECT {', '.join(self.columns)} FROM {table.name} WHERE "
        self.sqlite = select + " AND ".join(f"{k} = ?" for k in keys)
        self.postgres = select + " AND ".join(f"{k} = ${i}" for i, k in enumerate(keys, 1))

    def row(self, values: Sequence[Any]) -> dict[str, Any]:
        row = dict(zip(self.columns, values, strict=True))
        for name in self.json_columns:
            value = row[name]
            if isinstance(value, str | bytes):
                row[name] = json.loads(value)
        return row


TASK_BY_ID = PointQuery(tasks, ["id"])
TASK_OF_ACCOUNT = PointQuery(tasks, ["id", "account_id"])
KEY_BY_HASH = PointQuery(api_keys, ["secret_hash"])
ACCOUNT_BY_ID = PointQuery(accounts, ["id"])


class PointReads:
    """Single-row reads for one database URL; ``fetch`` answers a row, None (no row) or ``MISS``."""

    def __init__(self, url: str) -> None:
        parsed = make_url(url)
        self._sqlite_path: str | None = None
        self._dsn: str | None = None
        if parsed.drivername.startswith("sqlite"):
            path = parsed.database
            if path and path != ":memory:" and not path.startswith("file:"):
                self._sqlite_path = path
        elif parsed.drivername == "postgresql+asyncpg":
            self._dsn = parsed.set(drivername="postgresql").render_as_string(hide_password=False)
        self._conn: sqlite3.Connection | None = None
        self._pool: Any = None
        self._pool_lock = asyncio.Lock()
        self._closed = False

    async def fetch(self, query: PointQuery, *params: Any) -> Mapping[str, Any] | object | None:
        if self._closed:
            return MISS
        if self._sqlite_path is not None:
            return self._fetch_sqlite(query, params)
        if self._dsn is not None:
            return await self._fetch_postgres(query, params)
        return MISS

    def _fetch_sqlite(self, query: PointQuery, params: Sequence[Any]) -> Mapping[str, Any] | object | None:
        try:
            if self._conn is None:
                conn = sqlite3.connect(
                    f"file:{quote(self._sqlite_path or '')}?mode=ro",
                    uri=True,
                    isolation_level=None,
                    check_same_thread=False,
                )
                conn.execute("PRAGMA busy_timeout=0")
                conn.execute("PRAGMA query_only=1")
                self._conn = conn
            # fetchall steps the statement to its end, so no read transaction stays open after it.
            rows = self._conn.execute(query.sqlite, tuple(params)).fetchall()
        except sqlite3.Error as exc:
            # A lock met, the file not yet made (before the first migration)...: the ordinary path.
            log.debug("point read on SQLite fell back: %s", exc)
            return MISS
        return query.row(rows[0]) if rows else None

    async def _fetch_postgres(
        self, query: PointQuery, params: Sequence[Any]
    ) -> Mapping[str, Any] | object | None:
        try:
            pool = self._pool or await self._open_pool()
            found = await pool.fetchrow(query.postgres, *params)
        except Exception as exc:  # asyncpg's errors, OSError...: the ordinary path reports them
            log.debug("point read on PostgreSQL fell back: %s", exc)
            return MISS
        return None if found is None else query.row(list(found.values()))

    async def _open_pool(self) -> Any:
        import asyncpg  # type: ignore[import-untyped]

        async with self._pool_lock:
            if self._pool is None:
                self._pool = await asyncpg.create_pool(self._dsn, min_size=1, max_size=POOL_SIZE)
            return self._pool

    async def close(self) -> None:
        self._closed = True
        if self._conn is not None:
            self._conn.close()
            self._conn = None
        if self._pool is not None:
            pool, self._pool = self._pool, None
            await pool.close()
