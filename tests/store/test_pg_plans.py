"""The direct paths' statements on PostgreSQL are planned once for every value, so a page of tasks
walks the account's index from its first execution, whether or not the table was analyzed."""

from __future__ import annotations

import asyncio

import pytest

from imagine_gateway.store.migrate import upgrade
from imagine_gateway.store.pg_pools import open_pool
from imagine_gateway.store.tasks import _page_query
from tests.scaleout.conftest import pg_url

__all__ = ["pg_url"]

ACCOUNT = "acct_many"


async def first_page_plans(dsn: str) -> tuple[str, list[str]]:
    pool = await open_pool(dsn, size=2)
    try:
        async with pool.acquire() as conn:
            await conn.execute(
                "INSERT INTO accounts (id, name, balance, reserved, created_at) VALUES ($1, 'many', 0, 0, 1)",
                ACCOUNT,
            )
            # Every task of one account, never analyzed: planned for this value, PostgreSQL would
            # expect a few rows, read all 3,000 and sort them.
            await conn.execute(
                """INSERT INTO tasks (id, account_id, model, prompt, params, dialect, state, progress,
                       reserved_credits, final_credits, credits_state, submit_ambiguous, attempts, polls,
                       fence, deadline_at, created_at, updated_at)
                   SELECT 'task_' || i, $1, 'grok-imagine', 'a fox', '{}', 'native', 'queued', 0,
                       1, 0, 'reserved', 0, 0, 0, 0, 10000000000000, 1700000000000 + i, 1700000000000 + i
                   FROM generate_series(1, 3000) AS i""",
                ACCOUNT,
            )
            mode = await conn.fetchval("SHOW plan_cache_mode")
            query = _page_query(0, False, False, None, True)
            plan = [row[0] for row in await conn.fetch("EXPLAIN " + query.postgres, ACCOUNT, 21)]
        return mode, plan
    finally:
        await pool.close()


@pytest.mark.postgres
def test_a_page_of_an_unanalyzed_account_walks_its_index_from_the_first_execution(pg_url: str) -> None:
    upgrade(pg_url)
    dsn = pg_url.replace("postgresql+asyncpg://", "postgresql://")

    mode, plan = asyncio.run(first_page_plans(dsn))

    assert mode == "force_generic_plan"
    assert plan[0].startswith("Limit")
    assert "Index Scan Backward using ix_tasks_account_created on tasks" in plan[1]
    assert not any("Sort" in line for line in plan)
