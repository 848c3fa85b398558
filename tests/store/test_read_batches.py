"""Point reads on PostgreSQL that arrive together share one statement, and each caller still gets
exactly its own row: another account's task is not found, an unknown id is None."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import insert

from imagine_gateway.store.db import Database
from imagine_gateway.store.migrate import upgrade
from imagine_gateway.store.point_reads import TASK_OF_ACCOUNT
from imagine_gateway.store.tables import accounts, tasks
from imagine_gateway.store.tasks import find_task
from tests.scaleout.conftest import pg_url

__all__ = ["pg_url"]

pytestmark = pytest.mark.postgres

OWNERS = {f"task_{i}": ("acct_a" if i % 2 else "acct_b") for i in range(12)}


async def read_together(url: str) -> None:
    db = Database(url)
    try:
        async with db.write() as conn:
            for account in ("acct_a", "acct_b"):
                await conn.execute(
                    insert(accounts).values(id=account, name=account, balance=0, reserved=0, created_at=1)
                )
            for task_id, account in OWNERS.items():
                await conn.execute(
                    insert(tasks).values(
                        id=task_id,
                        account_id=account,
                        model="grok-imagine",
                        prompt=f"prompt of {task_id}",
                        params={"of": task_id},
                        state="queued",
                        reserved_credits=4,
                        credits_state="reserved",
                        deadline_at=10**13,
                        created_at=1,
                        updated_at=1,
                    )
                )
        await db.points.fetch(TASK_OF_ACCOUNT, "task_0", "acct_b")  # the pool is open before counting
        before = db.points.batches.statements

        asks = [(task_id, account) for task_id, account in OWNERS.items()]
        asks += [
            (task_id, "acct_b" if account == "acct_a" else "acct_a") for task_id, account in OWNERS.items()
        ]
        asks += [("task_nope", "acct_a"), ("task_3", "acct_a")]  # unknown; the same row asked twice
        found = await asyncio.gather(
            *(find_task(db, task_id, account_id=account) for task_id, account in asks)
        )

        owned = len(OWNERS)
        assert [(t.id, t.account_id, t.params) for t in found[:owned] if t is not None] == [
            (task_id, account, {"of": task_id}) for task_id, account in OWNERS.items()
        ]
        assert found[owned : 2 * owned] == [None] * owned  # another account's tasks are not found
        assert found[-2] is None
        assert found[-1] is not None and found[-1].id == "task_3"
        assert db.points.batches.statements - before == 1  # 26 reads, one statement
    finally:
        await db.dispose()


def test_reads_that_arrive_together_share_one_statement_and_each_gets_its_own_row(pg_url: str) -> None:
    upgrade(pg_url)
    asyncio.run(read_together(pg_url))
