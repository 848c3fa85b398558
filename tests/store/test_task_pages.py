"""A page of tasks read on the point-read path is the page SQLAlchemy reads, for every shape of
filter and position, on SQLite and on PostgreSQL."""

from __future__ import annotations

import asyncio
import itertools
from pathlib import Path

import pytest
from sqlalchemy import insert

from imagine_gateway.store.db import Database
from imagine_gateway.store.migrate import upgrade
from imagine_gateway.store.tables import accounts, tasks
from imagine_gateway.store.tasks import _page_query, find_tasks_page, list_tasks
from tests.scaleout.conftest import pg_url

__all__ = ["pg_url"]

MODELS = ("grok-imagine", "grok-imagine-video", "grok-imagine-image")
STATES = ("queued", "processing", "succeeded", "failed")
ACCOUNT = "acct_pages"
# 24 shapes x up to 5 positions x 3 limits (a shape with fewer than 4 tasks has fewer positions).
COMPARED = 336


async def fill(db: Database) -> None:
    async with db.write() as conn:
        for account in (ACCOUNT, "acct_other"):
            await conn.execute(
                insert(accounts).values(id=account, name=account, balance=0, reserved=0, created_at=1)
            )
        for i in range(40):
            await conn.execute(
                insert(tasks).values(
                    id=f"task_{i:03d}",
                    account_id=ACCOUNT if i % 7 else "acct_other",
                    model=MODELS[i % 3],
                    prompt=f"prompt {i}",
                    params={"n": i, "style": ["a", {"b": None}]},
                    dialect="xai" if i % 5 == 0 else "native",
                    state=STATES[i % 4],
                    reserved_credits=i,
                    credits_state="reserved",
                    result=None,
                    deadline_at=10**13,
                    created_at=1_700_000_000_000 + i // 3,  # three tasks share each instant
                    updated_at=1_700_000_000_000 + i,
                )
            )


async def compare_every_shape(url: str) -> int:
    db = Database(url)
    try:
        await fill(db)
        compared = 0
        for states, model, dialect, newest_first in itertools.product(
            (None, ["queued"], ["processing", "succeeded"]),
            (None, MODELS[1]),
            (None, "native"),
            (True, False),
        ):
            async with db.read() as conn:
                whole = await list_tasks(
                    conn,
                    account_id=ACCOUNT,
                    states=states,
                    model=model,
                    dialect=dialect,
                    limit=100,
                    newest_first=newest_first,
                )
            positions = [None, *((t.created_at, t.id) for t in whole[:4])]
            for position, limit in itertools.product(positions, (1, 3, 100)):
                keyset = {"before": position} if newest_first else {"after": position}
                filters = dict(account_id=ACCOUNT, states=states, model=model, dialect=dialect)
                async with db.read() as conn:
                    expected = await list_tasks(
                        conn, **filters, **keyset, limit=limit, newest_first=newest_first
                    )
                served = await find_tasks_page(
                    db, **filters, **keyset, limit=limit, newest_first=newest_first
                )
                assert served == expected, (filters, keyset, limit)
                compared += 1
        # ...and the pages really came from the point-read path, not its fallback.
        query = _page_query(0, False, False, None, True)
        rows = await db.points.fetch_rows(query, {"account_id": ACCOUNT, "limit": 5})
        assert isinstance(rows, list) and len(rows) == 5
        assert rows[0]["params"] == {"n": 39, "style": ["a", {"b": None}]}
        return compared
    finally:
        await db.dispose()


def test_pages_on_the_point_path_equal_sqlalchemys_on_sqlite(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'imagine.db'}"
    upgrade(url)
    assert asyncio.run(compare_every_shape(url)) == COMPARED


@pytest.mark.postgres
def test_pages_on_the_point_path_equal_sqlalchemys_on_postgresql(pg_url: str) -> None:
    upgrade(pg_url)
    assert asyncio.run(compare_every_shape(pg_url)) == COMPARED
