"""A snapshot read sees one state of the database in all its statements, on SQLite and on
PostgreSQL: a write that commits between two of them is not seen (a plain read sees it)."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import insert, select, update

from imagine_gateway.store.db import Database
from imagine_gateway.store.tables import accounts
from tests.databases import run_on
from tests.scaleout.conftest import pg_url

__all__ = ["pg_url"]

BALANCE = select(accounts.c.balance).where(accounts.c.id == "acct_1")


async def balances_around_a_commit(db: Database) -> dict[str, list[int]]:
    """The balance read twice in one read, a top-up committing in between, with and without snapshot."""
    async with db.write() as conn:
        await conn.execute(
            insert(accounts).values(id="acct_1", name="a", balance=100, reserved=0, created_at=1)
        )
    seen: dict[str, list[int]] = {}
    for snapshot in (True, False):
        async with db.read(snapshot=snapshot) as conn:
            first = await conn.scalar(BALANCE)
            async with db.write() as other:
                await other.execute(
                    update(accounts).where(accounts.c.id == "acct_1").values(balance=accounts.c.balance + 5)
                )
            seen["snapshot" if snapshot else "plain"] = [first, await conn.scalar(BALANCE)]
    return seen


def test_a_snapshot_read_does_not_see_a_commit_between_its_statements_on_sqlite(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'imagine.db'}"
    assert run_on(url, balances_around_a_commit) == {"snapshot": [100, 100], "plain": [105, 110]}


@pytest.mark.postgres
def test_a_snapshot_read_does_not_see_a_commit_between_its_statements_on_postgresql(pg_url: str) -> None:
    assert run_on(pg_url, balances_around_a_commit) == {"snapshot": [100, 100], "plain": [105, 110]}
