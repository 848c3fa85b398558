"""One row by its key, or one page of rows, on the shortest path each database offers: the status
read's and the list's hot path.

Through SQLAlchemy's async layer a single-row read on SQLite is about fifteen hand-offs between the
event loop and aiosqlite's thread, and on PostgreSQL a trip through the greenlet bridge; either
costs more than the query. Here:

- **SQLite**: a read-only ``sqlite3`` connection of this process runs the statement on the event
  loop's thread. In WAL mode a reader never waits for a writer, and a primary-key lookup takes tens
  of microseconds, less than one hand-off to a thread. ``busy_timeout`` is 0, so the loop can never
  block: the rare read that meets a lock (a checkpoint, the WAL being recovered) returns ``MISS``
  and the caller takes the ordinary path.
- **PostgreSQL**: a small asyncpg pool of its own (prepared statements, no ORM, no greenlet); the
  single-row reads that arrive together share one statement (``read_batches``). A failure returns
  ``MISS`` too, so the ordinary path reports the database's trouble as it always did.

The single-row statements are plain SQL with the column list of ``tables``; a page's statement
(``RowsQuery``) is a SQLAlchemy select compiled once for each database. JSON columns come back
decoded.
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
from collections.abc import Mapping, Sequence
from typing import Any, Final
from urllib.parse import quote

from sqlalchemy import JSON, Float, Select, Text, cast, func
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import make_url

from imagine_gateway.store.json_values import loads
from imagine_gateway.store.pg_pools import open_pool
from imagine_gateway.store.read_batches import ReadBatches
from imagine_gateway.store.tables import accounts, api_keys, tasks

log = logging.getLogger("imagine_gateway.store")
MISS: Final = object()  # "not served here": the caller reads through SQLAlchemy instead
POOL_SIZE = 8


def _json_columns(table: Any) -> frozenset[str]:
    return frozenset(c.name for c in table.columns if isinstance(c.type, JSON))


class _Rows:
    """Rows of ``table`` read whole: their column names, and the JSON columns to decode."""

    def __init__(self, table: Any) -> None:
        self.columns = [c.name for c in table.columns]
        self.json_columns = _json_columns(table)


class PointQuery(_Rows):
    """``SELECT <every column> FROM table WHERE a = ? AND b = ?`` in both databases' placeholders."""

    def __init__(self, table: Any, keys: Sequence[str]) -> None:
        super().__init__(table)
        self.keys: Sequence[str] = list(keys)
        select = f"SELECT {', '.join(self.columns)} FROM {table.name} WHERE "
        self.sqlite = select + " AND ".join(f"{k} = ?" for k in keys)
        # Reads that arrive together, by their first key (``read_batches``).
        self.postgres_any = select + f"{keys[0]} = ANY($1)"

    def row(self, values: Sequence[Any]) -> dict[str, Any]:
        # Every status read and key check makes one: zip unchecked (every statement here selects
        # exactly ``columns``), and an exact type test instead of isinstance.
        row = dict(zip(self.columns, values))  # noqa: B905
        for name in self.json_columns:
            value = row[name]
            if value.__class__ is str or value.__class__ is bytes:
                row[name] = loads(value)
        return row


class RowsQuery(_Rows):
    """A select of whole rows of ``table`` with named ``bindparam`` values, compiled once for each
    database.

    Each row comes back as one JSON array (SQLite's ``json_array``, the JSON columns embedded with
    ``json()``; PostgreSQL's ``json_build_array`` as text), which ``orjson`` decodes in one call: a
    page of twenty tasks of 36 columns is 720 values that the driver would otherwise make one by
    one, and three JSON texts a row decoded apart. A JSON column SQLite cannot parse fails the
    statement, and the ordinary path reads it.
    """

    def __init__(self, table: Any, select: Select[Any]) -> None:
        super().__init__(table)
        if any(isinstance(c.type, Float) for c in table.columns):
            # SQLite's JSON writes a REAL with 15 significant digits: not the value stored.
            raise ValueError(f"{table.name} has a floating-point column; read it through SQLAlchemy")
        self.select = select  # for the ordinary path, when this one cannot serve it
        as_arrays = select.with_only_columns(
            func.json_array(*(func.json(c) if c.name in self.json_columns else c for c in table.columns))
        )
        self.sqlite, self._sqlite_names, self._sqlite_fixed = _compiled(
            as_arrays, sqlite.dialect(paramstyle="qmark")
        )
        self.postgres, self._postgres_names, self._postgres_fixed = _compiled(
            select.with_only_columns(cast(func.json_build_array(*table.columns), Text)),
            postgresql.asyncpg.dialect(),  # type: ignore[no-untyped-call]
        )

    def sqlite_values(self, values: Mapping[str, Any]) -> tuple[Any, ...]:
        return tuple(values[n] if n in values else self._sqlite_fixed[n] for n in self._sqlite_names)

    def postgres_values(self, values: Mapping[str, Any]) -> tuple[Any, ...]:
        return tuple(values[n] if n in values else self._postgres_fixed[n] for n in self._postgres_names)


def _compiled(select: Select[Any], dialect: Any) -> tuple[str, list[str], dict[str, Any]]:
    """The statement's SQL for ``dialect``, its placeholders' names in order, and the values the
    statement carries itself (such as SQLite's ``OFFSET 0``)."""
    compiled = select.compile(dialect=dialect)
    return str(compiled), list(compiled.positiontup or ()), dict(compiled.params)


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
        self.batches = ReadBatches(self._rows_postgres, miss=MISS)

    async def fetch(self, query: PointQuery, *params: Any) -> Mapping[str, Any] | object | None:
        if self._closed:
            return MISS
        if self._sqlite_path is not None:
            return self._fetch_sqlite(query, params)
        if self._dsn is not None:
            return await self.batches.fetch(query, params)
        return MISS

    async def fetch_rows(self, query: RowsQuery, values: Mapping[str, Any]) -> list[dict[str, Any]] | object:
        """Every row ``query`` selects with these named values, or ``MISS``."""
        if self._closed:
            return MISS
        if self._sqlite_path is not None:
            arrays = self._rows_sqlite(query.sqlite, query.sqlite_values(values))
        elif self._dsn is not None:
            arrays = await self._rows_postgres(query.postgres, query.postgres_values(values))
        else:
            return MISS
        if not isinstance(arrays, list):
            return MISS
        columns = query.columns
        return [dict(zip(columns, loads(array), strict=True)) for (array,) in arrays]

    def _fetch_sqlite(self, query: PointQuery, params: Sequence[Any]) -> Mapping[str, Any] | object | None:
        rows = self._rows_sqlite(query.sqlite, tuple(params))
        if rows is MISS:
            return MISS
        return query.row(rows[0]) if rows else None  # type: ignore[index]

    def _rows_sqlite(self, sql: str, params: tuple[Any, ...]) -> list[Any] | object:
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
            return self._conn.execute(sql, params).fetchall()
        except sqlite3.Error as exc:
            # A lock met, the file not yet made (before the first migration)...: the ordinary path.
            log.debug("point read on SQLite fell back: %s", exc)
            return MISS

    async def _rows_postgres(self, sql: str, params: Sequence[Any]) -> list[Sequence[Any]] | object:
        try:
            pool = self._pool or await self._open_pool()
            # asyncpg's records are sequences of their values: no copy into lists.
            return list(await pool.fetch(sql, *params))
        except Exception as exc:  # asyncpg's errors, OSError...: the ordinary path reports them
            log.debug("read on PostgreSQL fell back: %s", exc)
            return MISS

    async def _open_pool(self) -> Any:
        async with self._pool_lock:
            if self._pool is None:
                self._pool = await open_pool(self._dsn or "", size=POOL_SIZE)
            return self._pool

    async def close(self) -> None:
        self._closed = True
        if self._conn is not None:
            self._conn.close()
            self._conn = None
        if self._pool is not None:
            pool, self._pool = self._pool, None
            await pool.close()
