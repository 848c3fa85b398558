"""Group commit: writes that arrive together share one transaction, yet each succeeds or fails
alone, and nobody is answered before the commit that holds their write (SQLite and PostgreSQL)."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, insert, select, text
from sqlalchemy.exc import IntegrityError

from imagine_gateway.store.db import POSTGRES_EXTRA_GROUP_MIN, Database
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


async def transactions_open(db: Database) -> int:
    """The database's connections holding a transaction open, the groups' among them."""
    async with db.read() as conn:
        found = await conn.scalar(
            text(
                "SELECT count(*) FROM pg_stat_activity"
                " WHERE datname = current_database() AND state = 'idle in transaction'"
            )
        )
    return int(found)


async def groups_beside_a_running_one(url: str) -> None:
    db = Database(url)
    release = asyncio.Event()

    def held(account_id: str) -> Any:
        async def work(conn: Any, postings: Any) -> str:
            answer = await add_account(account_id)(conn, postings)
            await release.wait()  # its group's transaction stays open until the test lets it go
            return str(answer)

        return work

    async def open_soon(expected: int) -> int:
        """How many transactions are open once ``expected`` are, or after 5 s."""
        for _ in range(50):
            found = await transactions_open(db)
            if found == expected:
                return found
            await asyncio.sleep(0.1)
        return found

    async def open_after_a_while() -> int:
        await asyncio.sleep(0.2)
        return await transactions_open(db)

    need = POSTGRES_EXTRA_GROUP_MIN
    a = [f"acct_a{i}" for i in range(2)]
    b = [f"acct_b{i}" for i in range(need)]
    c = [f"acct_c{i}" for i in range(3)]
    try:
        running = [asyncio.ensure_future(db.grouped(held(i))) for i in a]
        assert await open_soon(1) == 1  # the first group starts at once, whatever its size
        running += [asyncio.ensure_future(db.grouped(held(i))) for i in b[:-1]]
        assert await open_after_a_while() == 1  # too few for a transaction of their own beside it
        running.append(asyncio.ensure_future(db.grouped(held(b[-1]))))
        assert await open_soon(2) == 2
        running += [asyncio.ensure_future(db.grouped(add_account(i))) for i in c]
        assert await open_after_a_while() == 2
        release.set()  # the two groups end; the three that waited then go together
        assert await asyncio.gather(*running) == a + b + c
        async with db.read() as conn:
            # A row's xmin is the transaction that wrote it: the groups, one transaction each.
            rows = (await conn.execute(text("SELECT id, xmin::text FROM accounts"))).all()
        groups: dict[str, set[str]] = {}
        for account_id, xmin in rows:
            groups.setdefault(xmin, set()).add(account_id)
        assert sorted(groups.values(), key=len) == [set(a), set(c), set(b)]
    finally:
        release.set()
        await db.dispose()


@pytest.mark.postgres
def test_on_postgresql_a_group_beside_a_running_one_starts_only_with_enough_creates(pg_url: str) -> None:
    upgrade(pg_url)
    asyncio.run(groups_beside_a_running_one(pg_url))
