"""Short SQLite write transactions run on the event loop's thread (``Database.write(quick=True)``).

Through aiosqlite every statement of a transaction is several hand-offs to the connection's thread,
and SQLite's one writer holds the write lock across all of them: a create (idempotency key, task,
balance, ledger row) held it for milliseconds, so concurrent creates queued behind hand-offs, not
behind SQLite. The same statements on a plain ``sqlite3`` connection take a fraction of a
millisecond, less than one hand-off, so a quick transaction runs them right here.

The store's functions take it unchanged: ``LoopConnection`` answers ``execute``, ``scalar`` and
``begin_nested`` as ``AsyncConnection`` does (with the same buffered results), without leaving the
thread; a statement marked ``prepared`` runs on the ``sqlite3`` cursor itself (``store.prepared``).
Three rules keep the event loop from ever waiting on the disk or on another process:

- ``busy_timeout`` is 0: when another process holds the write lock, ``BEGIN IMMEDIATE`` fails at
  once and the transaction runs on the ordinary (threaded, waiting) path instead;
- this connection never checkpoints the WAL (``wal_autocheckpoint=0``, the step that fsyncs):
  checkpoints run on aiosqlite's thread (``wal_checkpoints``);
- commits do not fsync (WAL with ``synchronous=NORMAL``, as on every connection of the gateway).
"""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any, cast

from sqlalchemy import create_engine, event
from sqlalchemy.engine import Connection, Engine, make_url

from imagine_gateway.store.json_values import loads
from imagine_gateway.store.prepared import Plans, run

log = logging.getLogger("imagine_gateway.store")


class LoopConnection:
    """The slice of ``AsyncConnection`` the store uses, over a synchronous connection."""

    def __init__(self, sync: Connection, plans: Plans) -> None:
        self.sync_connection = sync
        self.dialect = sync.dialect
        self.plans = plans
        self._raw = cast(sqlite3.Connection, sync.connection.driver_connection)

    async def execute(self, statement: Any, parameters: Any = None, **kwargs: Any) -> Any:
        plan = None if kwargs else self.plans.get(statement, parameters)
        if plan is not None:
            return run(self._raw, plan, parameters)
        return self.sync_connection.execute(statement, parameters, **kwargs)

    async def scalar(self, statement: Any, parameters: Any = None, **kwargs: Any) -> Any:
        return self.sync_connection.scalar(statement, parameters, **kwargs)

    @asynccontextmanager
    async def begin_nested(self) -> AsyncIterator[None]:
        with self.sync_connection.begin_nested():
            yield


def loop_engine(url: str, *, journal_size_limit: int) -> Engine | None:
    """The synchronous engine for quick writes to the SQLite file at ``url`` (None: not a file)."""
    parsed = make_url(url)
    path = parsed.database
    if not parsed.drivername.startswith("sqlite") or not path or path == ":memory:":
        return None
    engine = create_engine(
        parsed.set(drivername="sqlite"),
        pool_size=1,
        max_overflow=0,
        connect_args={"check_same_thread": False},
        json_deserializer=loads,
    )

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        dbapi_conn.isolation_level = None  # we issue BEGIN IMMEDIATE ourselves
        cursor = dbapi_conn.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA busy_timeout=0")
        cursor.execute("PRAGMA wal_autocheckpoint=0")
        cursor.execute(f"PRAGMA journal_size_limit={int(journal_size_limit)}")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.close()

    return engine


class LoopWriter:
    """The quick writes' one connection, kept checked out, and their transactions.

    ``BEGIN IMMEDIATE``, ``COMMIT`` and ``ROLLBACK`` go to ``sqlite3`` itself: through SQLAlchemy
    (a pool checkout and its reset, the begin event, a driver statement) they cost about as much as
    the statements of a create. When a statement ran through SQLAlchemy (one no plan covers), its
    connection began a transaction of its own around it (SQLite's dialect sends nothing for that),
    so SQLAlchemy ends it, which ends SQLite's.
    """

    def __init__(self, engine: Engine, plans: Plans) -> None:
        self.engine = engine
        self.plans = plans
        self._conn: Connection | None = None

    def begin(self) -> LoopConnection | None:
        """The connection in a new write transaction; None when another process holds the lock."""
        conn = self._conn
        if conn is None or conn.closed or conn.invalidated:
            conn = self._conn = self.engine.connect()
        raw = cast(sqlite3.Connection, conn.connection.driver_connection)
        if raw.in_transaction or conn.in_transaction():  # a commit that failed left it open
            self.rollback()
        try:
            raw.execute("BEGIN IMMEDIATE")
        except sqlite3.OperationalError as exc:
            log.debug("quick write on the ordinary path: %s", exc)
            return None
        return LoopConnection(conn, self.plans)

    def commit(self) -> None:
        self._end(commit=True)

    def rollback(self) -> None:
        self._end(commit=False)

    def _end(self, *, commit: bool) -> None:
        conn = self._conn
        assert conn is not None
        if conn.in_transaction():
            conn.commit() if commit else conn.rollback()
        else:
            raw = cast(sqlite3.Connection, conn.connection.driver_connection)
            if commit:
                raw.execute("COMMIT")
            elif raw.in_transaction:  # SQLite ends a transaction itself on some errors (a full disk)
                raw.execute("ROLLBACK")

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None
