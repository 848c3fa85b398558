"""Reservations posted together: the creates of one transaction move each key and account once, their
ledger rows read as if posted one by one, and a sum that does not fit fails only the creates that
do not fit (SQLite and PostgreSQL)."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import insert, select

from imagine_gateway.core.errors import InsufficientCredits, KeyBudgetExceeded
from imagine_gateway.store import tasks as task_store
from imagine_gateway.store.db import Database
from imagine_gateway.store.migrate import upgrade
from imagine_gateway.store.postings import Postings
from imagine_gateway.store.tables import accounts, api_keys, ledger
from tests.scaleout.conftest import pg_url
from tests.tasks import new_task

__all__ = ["pg_url"]


def create(task_id: str, *, account_id: str, api_key_id: str) -> Any:
    async def work(conn: Any, postings: Postings) -> str:
        new = new_task(task_id, account_id=account_id, api_key_id=api_key_id, price=10)
        await task_store.insert_task(conn, new, postings)
        return task_id

    return work


async def seed(db: Database, account_id: str, *, balance: int, cap: int | None) -> str:
    key_id = f"key_{account_id}"
    async with db.write() as conn:
        await conn.execute(
            insert(accounts).values(id=account_id, name="a", balance=balance, reserved=0, created_at=1)
        )
        await conn.execute(
            insert(api_keys).values(
                id=key_id,
                account_id=account_id,
                name="k",
                prefix="igw_sk_x",
                secret_hash=f"hash_{account_id}",
                scopes=[],
                created_at=1,
                limit_total=cap,
            )
        )
    return key_id


async def facts(db: Database, account_id: str) -> dict[str, Any]:
    async with db.read() as conn:
        balance, reserved = (
            await conn.execute(
                select(accounts.c.balance, accounts.c.reserved).where(accounts.c.id == account_id)
            )
        ).one()
        spent = await conn.scalar(select(api_keys.c.spent_total).where(api_keys.c.account_id == account_id))
        rows = (
            await conn.execute(
                select(ledger.c.task_id, ledger.c.amount, ledger.c.balance_after)
                .where(ledger.c.account_id == account_id)
                .order_by(ledger.c.id)
            )
        ).all()
    return {"balance": balance, "reserved": reserved, "key_spent": spent, "ledger": [tuple(r) for r in rows]}


async def scenario(url: str) -> list[Any]:
    db = Database(url)
    try:
        # Four creates arrive together; the balance covers three, the other account's cap one.
        short = await seed(db, "acct_short", balance=35, cap=None)
        capped = await seed(db, "acct_capped", balance=1000, cap=15)
        works = [create(f"task_s{i}", account_id="acct_short", api_key_id=short) for i in range(4)]
        works += [create(f"task_c{i}", account_id="acct_capped", api_key_id=capped) for i in range(2)]
        results = await asyncio.gather(*(db.grouped(w) for w in works), return_exceptions=True)
        together = [r if isinstance(r, str) else type(r) for r in results]

        # A later create past the cap fails alone and changes nothing.
        more = await asyncio.gather(
            db.grouped(create("task_late", account_id="acct_capped", api_key_id=capped)),
            return_exceptions=True,
        )
        return [
            together,
            [type(r) for r in more],
            await facts(db, "acct_short"),
            await facts(db, "acct_capped"),
            db.group_commit.retried,
        ]
    finally:
        await db.dispose()


def expected() -> list[Any]:
    return [
        ["task_s0", "task_s1", "task_s2", InsufficientCredits, "task_c0", KeyBudgetExceeded],
        [KeyBudgetExceeded],
        {
            "balance": 5,
            "reserved": 30,
            "key_spent": 30,
            "ledger": [("task_s0", -10, 25), ("task_s1", -10, 15), ("task_s2", -10, 5)],
        },
        {"balance": 990, "reserved": 10, "key_spent": 10, "ledger": [("task_c0", -10, 990)]},
        1,
    ]


def test_postings_posted_together_on_sqlite(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'imagine.db'}"
    upgrade(url)
    assert asyncio.run(scenario(url)) == expected()


@pytest.mark.postgres
def test_postings_posted_together_on_postgresql(pg_url: str) -> None:
    upgrade(pg_url)
    assert asyncio.run(scenario(pg_url)) == expected()
