"""The creates of a group on PostgreSQL run side by side and insert their tasks in one statement:
each still learns whether its Idempotency-Key was free, a task without a key is inserted, and two
creates of one group with the same key fail the group, so each runs again alone."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from sqlalchemy import insert, select

from imagine_gateway.store import idempotency
from imagine_gateway.store import tasks as task_store
from imagine_gateway.store.db import Database
from imagine_gateway.store.postings import Postings
from imagine_gateway.store.tables import accounts, ledger, tasks
from tests.databases import run_on
from tests.scaleout.conftest import pg_url
from tests.tasks import new_task

pytestmark = pytest.mark.postgres
__all__ = ["pg_url"]

NOW = 1_800_000_000_000


def claim(task_id: str, key: str, digest: str = "f", *, now_ms: int = NOW) -> Any:
    async def work(conn: Any, postings: Postings) -> bool:
        new = new_task(task_id, now_ms=now_ms)
        return await idempotency.claim_with_task(conn, new, postings, key, fingerprint=digest, ttl_ms=1000)

    return work


def without_key(task_id: str) -> Any:
    async def work(conn: Any, postings: Postings) -> bool:
        await task_store.insert_task(conn, new_task(task_id), postings)
        return True

    return work


async def scenario(db: Database) -> dict[str, Any]:
    async with db.write() as conn:
        await conn.execute(
            insert(accounts).values(id="acct_1", name="a", balance=100, reserved=0, created_at=1)
        )
    # Earlier records: one still live at NOW, one whose retention ended before it.
    await asyncio.gather(
        db.grouped(claim("task_live", "live", now_ms=NOW - 10)),
        db.grouped(claim("task_old", "old", now_ms=NOW - 5000)),
    )
    together = await asyncio.gather(
        db.grouped(claim("task_a", "a")),
        db.grouped(without_key("task_plain")),
        db.grouped(claim("task_live_again", "live")),
        db.grouped(claim("task_old_again", "old", "g")),
        db.grouped(claim("task_b", "b")),
    )
    counts = (db.group_commit.groups, db.group_commit.retried)
    twice = await asyncio.gather(
        db.grouped(claim("task_dup_1", "dup")), db.grouped(claim("task_dup_2", "dup"))
    )
    async with db.read() as conn:
        stored = set((await conn.execute(select(tasks.c.id))).scalars())
        balance = await conn.scalar(select(accounts.c.balance).where(accounts.c.id == "acct_1"))
        reserved = (await conn.execute(select(ledger.c.task_id).where(ledger.c.kind == "reserve"))).scalars()
        records = {
            key: await idempotency.lookup(conn, "acct_1", key, now_ms=NOW) for key in ("live", "old", "dup")
        }
    return {
        "together": together,
        "groups_then": counts,
        "twice": twice,
        "retried": db.group_commit.retried,
        "stored": stored,
        "reserved": sorted(reserved),
        "balance": balance,
        "records": records,
    }


def test_a_groups_creates_insert_together_and_each_learns_its_keys_outcome(pg_url: str) -> None:
    made = ["task_a", "task_b", "task_dup_1", "task_live", "task_old", "task_old_again", "task_plain"]
    assert run_on(pg_url, scenario) == {
        "together": [True, True, False, True, True],
        "groups_then": (2, 0),
        "twice": [True, False],  # the group failed; alone, the first took the key
        "retried": 1,
        "stored": set(made),
        "reserved": made,
        "balance": 100 - 10 * len(made),
        "records": {
            "live": idempotency.IdempotencyRecord("f", "task_live"),
            "old": idempotency.IdempotencyRecord("g", "task_old_again"),
            "dup": idempotency.IdempotencyRecord("f", "task_dup_1"),
        },
    }
