"""Group commit: writes that arrive together share one transaction, yet each succeeds or fails
alone, and nobody is answered before the commit that holds their write (SQLite and PostgreSQL)."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, insert, select
from sqlalchemy.exc import IntegrityError

from imagine_gateway.store.db import Database
from imagine_gateway.store.migrate import upgrade
from imagine_gateway.store.tables import accounts
from tests.scaleout.conftest import pg_url

__all__ = ["pg_url"]


def add_account(account_id: str) -> Any:
    async def work(conn: Any, _postings: Any) -> str:
        await conn.execute(
            insert(accounts).values(id=account_id, name=account_id, balance=0, reserved=0, created_at=1)
        )
        return account_id

    return work


async def stored_accounts(db: Database) -> set[str]:
    async with db.read() as conn:
        return set((await conn.execute(select(accounts.c.id))).scalars())


async def together(url: str) -> None:
    db = Database(url)
    try:
        ids = [f"acct_{i}" for i in range(10)]
        answers = await asyncio.gather(*(db.grouped(add_account(i)) for i in ids))
        assert answers == ids
        assert await stored_accounts(db) == set(ids)
        assert (db.group_commit.groups, db.group_commit.retried) == (1, 0)

        # A duplicate among new ones: the group is rolled back and run again one by one, so only
        # the duplicate fails, with its own error, and the others commit.
        fresh = [f"acct_new_{i}" for i in range(5)]
        works = (
            [add_account(i) for i in fresh[:2]]
            + [add_account("acct_3")]
            + [add_account(i) for i in fresh[2:]]
        )
        results = await asyncio.gather(*(db.grouped(w) for w in works), return_exceptions=True)
        assert [r for r in results if not isinstance(r, BaseException)] == fresh
        assert [type(r) for r in results if isinstance(r, BaseException)] == [IntegrityError]
        assert await stored_accounts(db) == set(ids) | set(fresh)
        assert db.group_commit.retried == 1
        async with db.read() as conn:
            assert await conn.scalar(select(func.count()).select_from(accounts)) == 15
    finally:
        await db.dispose()


def test_writes_that_arrive_together_commit_once_and_fail_alone_on_sqlite(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'imagine.db'}"
    upgrade(url)
    asyncio.run(together(url))


@pytest.mark.postgres
def test_writes_that_arrive_together_commit_once_and_fail_alone_on_postgresql(pg_url: str) -> None:
    upgrade(pg_url)
    asyncio.run(together(pg_url))
