"""Groups of creates on PostgreSQL run on asyncpg itself: what they store, read back and raise is
what SQLAlchemy's path stores, reads back and raises, and a connection the server ended while it
sat in the pool is replaced before any statement runs."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from sqlalchemy import bindparam, insert, select, text
from sqlalchemy.exc import IntegrityError

from imagine_gateway.store import idempotency
from imagine_gateway.store import tasks as task_store
from imagine_gateway.store.db import Database
from imagine_gateway.store.postings import Postings
from imagine_gateway.store.tables import accounts, tasks
from tests.databases import run_on
from tests.reliability.blips import terminate_connections
from tests.scaleout.conftest import pg_url
from tests.tasks import new_task

pytestmark = pytest.mark.postgres
__all__ = ["pg_url"]


async def stored(db: Database, task_id: str) -> tuple[Any, ...]:
    """The task's row as PostgreSQL holds it, its JSON as text."""
    async with db.read() as conn:
        row = (
            await conn.execute(
                text("SELECT *, params::text AS params_text FROM tasks WHERE id = :id"), {"id": task_id}
            )
        ).one()
    return tuple(row)


async def scenario(db: Database) -> dict[str, Any]:
    async with db.write() as conn:
        await conn.execute(
            insert(accounts).values(id="acct_1", name="a", balance=100, reserved=0, created_at=1)
        )

    async def create(conn: Any, postings: Postings) -> list[bool]:
        # The claim and the task's row go in one statement.
        claims = [
            ("task_direct", 1_800_000_000_000, "f"),
            ("task_twice", 1_800_000_000_999, "f"),  # the record is live: nothing inserted
            ("task_later", 1_800_000_001_000, "g"),  # it has expired: taken over
        ]
        return [
            await idempotency.claim_with_task(
                conn, new_task(task_id, now_ms=now), postings, "key-1", fingerprint=digest, ttl_ms=1000
            )
            for task_id, now, digest in claims
        ]

    grouped = await db.grouped(create)
    async with db.read() as conn:
        created = (await conn.execute(select(tasks.c.id).order_by(tasks.c.id))).scalars().all()
        record = await idempotency.lookup(conn, "acct_1", "key-1", now_ms=1_800_000_001_000)
    async with db.write() as conn:  # SQLAlchemy's path
        await task_store.insert_task(conn, new_task("task_sqlalchemy"))

    async def reads(conn: Any, _postings: Postings) -> Any:
        # Statements no plan is kept for: an IN list of the caller's, a mapping, a scalar.
        listed = await conn.execute(
            select(tasks.c.id).where(tasks.c.id.in_(bindparam("ids", expanding=True))).order_by(tasks.c.id),
            {"ids": ["task_direct", "task_sqlalchemy", "task_none"]},
        )
        found = await task_store.get_task(conn, "task_direct", account_id="acct_1")
        balance = await conn.scalar(select(accounts.c.balance).where(accounts.c.id == "acct_1"))
        return [row[0] for row in listed], found, balance

    listed, found, balance = await db.grouped(reads)

    async def duplicate(conn: Any, postings: Postings) -> None:
        await task_store.insert_task(conn, new_task("task_direct"), postings)

    with pytest.raises(IntegrityError) as caught:
        await db.grouped(duplicate)

    terminate_connections(db.url)  # the pool's connections, idle, ended by the server
    await asyncio.sleep(0.2)
    after = await db.grouped(reads)
    return {
        "grouped": grouped,
        "created": created,
        "record": record,
        "same_row": (await stored(db, "task_direct"))[1:] == (await stored(db, "task_sqlalchemy"))[1:],
        "listed": listed,
        "params": found.params,
        "balance": balance,
        "duplicate": type(caught.value.orig).__name__,
        "after_termination": after[2],
    }


def test_a_group_of_creates_on_asyncpg_stores_reads_and_raises_as_sqlalchemy(pg_url: str) -> None:
    assert run_on(pg_url, scenario) == {
        "grouped": [True, False, True],
        "created": ["task_direct", "task_later"],
        "record": idempotency.IdempotencyRecord("g", "task_later"),
        "same_row": True,
        "listed": ["task_direct", "task_sqlalchemy"],
        "params": {"duration": 6, "aspect_ratio": "16:9", "nested": {"seed": None, "tags": ["a", "b"]}},
        "balance": 70,
        "duplicate": "UniqueViolationError",
        "after_termination": 70,
    }
