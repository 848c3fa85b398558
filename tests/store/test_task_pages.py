"""A page of tasks is the account's tasks that match, past the cursor's position, newest (or oldest)
first, for every shape of filter and position: on the point-read path and on its SQLAlchemy
fallback alike, on SQLite and on PostgreSQL."""

from __future__ import annotations

import asyncio
import dataclasses
import itertools
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import insert, text

from imagine_gateway.core.records import Task
from imagine_gateway.core.results import ResultAsset, StoredAsset, StoredResult, UpstreamResult
from imagine_gateway.store.db import Database
from imagine_gateway.store.migrate import upgrade
from imagine_gateway.store.point_reads import MISS
from imagine_gateway.store.tables import accounts, tasks
from imagine_gateway.store.tasks import _page_query, find_tasks_page
from tests.scaleout.conftest import pg_url
from tests.tasks import new_task

__all__ = ["pg_url"]

MODELS = ("grok-imagine", "grok-imagine-video", "grok-imagine-image")
STATES = ("queued", "processing", "succeeded", "failed")
ACCOUNT = "acct_pages"
# 24 shapes x up to 5 positions x 3 limits (a shape with fewer than 4 tasks has fewer positions).
COMPARED = 336


def made_tasks() -> list[dict[str, Any]]:
    return [
        {
            "id": f"task_{i:03d}",
            "account_id": ACCOUNT if i % 7 else "acct_other",
            "model": MODELS[i % 3],
            "prompt": f"prompt {i}",
            "params": {"n": i, "style": ["a", {"b": None}]},
            "dialect": "xai" if i % 5 == 0 else "native",
            "state": STATES[i % 4],
            "reserved_credits": i,
            "credits_state": "reserved",
            "deadline_at": 10**13,
            "created_at": 1_700_000_000_000 + i // 3,  # three tasks share each instant
            "updated_at": 1_700_000_000_000 + i,
        }
        for i in range(40)
    ]


async def fill(db: Database, rows: list[dict[str, Any]]) -> None:
    async with db.write() as conn:
        for account in (ACCOUNT, "acct_other"):
            await conn.execute(
                insert(accounts).values(id=account, name=account, balance=0, reserved=0, created_at=1)
            )
        for row in rows:
            await conn.execute(insert(tasks).values(**row))


def expected_page(
    rows: list[dict[str, Any]],
    filters: dict[str, Any],
    position: tuple[int, str] | None,
    limit: int,
    newest: bool,
) -> list[str]:
    """The page computed from the rows themselves."""
    kept = [
        r
        for r in rows
        if r["account_id"] == filters["account_id"]
        and (filters["states"] is None or r["state"] in filters["states"])
        and (filters["model"] is None or r["model"] == filters["model"])
        and (filters["dialect"] is None or r["dialect"] == filters["dialect"])
    ]
    kept.sort(key=lambda r: (r["created_at"], r["id"]), reverse=newest)
    if position is not None:
        kept = [r for r in kept if ((r["created_at"], r["id"]) < position) == newest]
        kept = [r for r in kept if (r["created_at"], r["id"]) != position]
    return [r["id"] for r in kept[:limit]]


async def compare_every_shape(url: str, *, point_path: bool) -> int:
    db = Database(url)
    rows = made_tasks()
    try:
        await fill(db, rows)
        if not point_path:
            await db.points.close()  # every read now takes the SQLAlchemy fallback
        compared = 0
        for states, model, dialect, newest_first in itertools.product(
            (None, ["queued"], ["processing", "succeeded"]),
            (None, MODELS[1]),
            (None, "native"),
            (True, False),
        ):
            filters = dict(account_id=ACCOUNT, states=states, model=model, dialect=dialect)
            whole = expected_page(rows, filters, None, 100, newest_first)
            positions = [None, *((1_700_000_000_000 + int(i[5:]) // 3, i) for i in whole[:4])]
            for position, limit in itertools.product(positions, (1, 3, 100)):
                keyset = {"before": position} if newest_first else {"after": position}
                served = await find_tasks_page(
                    db, **filters, **keyset, limit=limit, newest_first=newest_first
                )
                assert [t.id for t in served] == expected_page(
                    rows, filters, position, limit, newest_first
                ), (
                    filters,
                    keyset,
                    limit,
                )
                compared += 1
        page = await find_tasks_page(db, account_id=ACCOUNT, limit=1)
        assert (page[0].id, page[0].params) == ("task_039", {"n": 39, "style": ["a", {"b": None}]})
        # ...and on the point path, the pages really came from it, not from its fallback.
        served_here = await db.points.fetch_rows(
            _page_query(0, False, False, None, True), {"account_id": ACCOUNT, "limit": 5}
        )
        assert isinstance(served_here, list) == point_path
        return compared
    finally:
        await db.dispose()


@pytest.mark.parametrize("point_path", [True, False], ids=["point path", "sqlalchemy fallback"])
def test_pages_hold_the_matching_tasks_past_the_position_in_order_on_sqlite(
    tmp_path: Path, point_path: bool
) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'imagine.db'}"
    upgrade(url)
    assert asyncio.run(compare_every_shape(url, point_path=point_path)) == COMPARED


@pytest.mark.postgres
@pytest.mark.parametrize("point_path", [True, False], ids=["point path", "sqlalchemy fallback"])
def test_pages_hold_the_matching_tasks_past_the_position_in_order_on_postgresql(
    pg_url: str, point_path: bool
) -> None:
    upgrade(pg_url)
    assert asyncio.run(compare_every_shape(pg_url, point_path=point_path)) == COMPARED


def test_the_tasks_table_holds_exactly_the_fields_of_a_task() -> None:
    """What lets a page's rows become tasks without filtering their columns (Task.from_columns)."""
    assert {c.name for c in tasks.columns} == {f.name for f in dataclasses.fields(Task)}


def a_task_with_every_kind_of_value() -> Task:
    asset = StoredAsset(
        key="media/a.mp4",
        kind="video",
        mime_type="video/mp4",
        size_bytes=2**40,
        sha256="ab" * 32,
        width=1280,
        height=720,
        duration_s=0.1 + 0.2,  # 0.30000000000000004: every digit must come back
        poster_key=None,
    )
    return dataclasses.replace(
        new_task(
            "task_values",
            account_id=ACCOUNT,
            prompt='quotes " and \\ backslashes, a\nnewline, a tab\t, «ünïcode» ✓ and 🦊',
            params={"n": 2**62, "ratio": 1 / 3, "nested": [None, True, {"é": "\u0000"}]},
        ).task,
        state="succeeded",
        result=StoredResult(assets=(asset,)),
        upstream_result=UpstreamResult(
            raw={"id": "up_1", "cost": 12.5}, assets=(ResultAsset("https://x/a", "video"),)
        ),
        error_message=None,
        upstream_cost_ticks=-(2**63),
    )


async def store(db: Database, task: Task) -> None:
    """The task and its account, stored as SQLAlchemy stores them."""
    async with db.write() as conn:
        await conn.execute(insert(accounts).values(id=ACCOUNT, name="a", balance=0, reserved=0, created_at=1))
        await conn.execute(insert(tasks).values(**task.to_row()))


async def first_page(db: Database) -> object:
    """The account's first page on the point-read path: its rows, or MISS."""
    return await db.points.fetch_rows(
        _page_query(0, False, False, None, True), {"account_id": ACCOUNT, "limit": 5}
    )


async def read_on_both_paths(url: str) -> tuple[list[Task], list[Task], object]:
    db = Database(url)
    task = a_task_with_every_kind_of_value()
    try:
        await store(db, task)
        point = await first_page(db)
        served = await find_tasks_page(db, account_id=ACCOUNT, limit=5)
        await db.points.close()
        fallback = await find_tasks_page(db, account_id=ACCOUNT, limit=5)
        return served, fallback, point
    finally:
        await db.dispose()


def test_a_page_on_the_point_path_reads_every_value_as_sqlalchemy_does_on_sqlite(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'imagine.db'}"
    upgrade(url)

    served, fallback, point = asyncio.run(read_on_both_paths(url))

    assert isinstance(point, list) and len(point) == 1  # served by the point path itself
    assert served == fallback == [a_task_with_every_kind_of_value()]
    assert served[0].result.assets[0].duration_s == 0.30000000000000004  # type: ignore[union-attr]


@pytest.mark.postgres
def test_a_page_on_the_point_path_reads_every_value_as_sqlalchemy_does_on_postgresql(pg_url: str) -> None:
    upgrade(pg_url)

    served, fallback, point = asyncio.run(read_on_both_paths(pg_url))

    assert isinstance(point, list) and len(point) == 1
    assert served == fallback == [a_task_with_every_kind_of_value()]


def test_a_json_column_sqlite_cannot_parse_leaves_the_page_to_the_ordinary_path(tmp_path: Path) -> None:
    """Stored text the JSON functions refuse fails the point path's statement; it answers MISS, and
    the ordinary path reads (and reports) it as it always did."""
    url = f"sqlite+aiosqlite:///{tmp_path / 'imagine.db'}"
    upgrade(url)
    task = a_task_with_every_kind_of_value()

    async def scenario() -> object:
        db = Database(url)
        try:
            await store(db, task)
            async with db.write() as conn:
                await conn.execute(
                    text("UPDATE tasks SET params = '{not json' WHERE id = :id"), {"id": task.id}
                )
            return await first_page(db)
        finally:
            await db.dispose()

    assert asyncio.run(scenario()) is MISS


def test_a_lone_surrogate_an_upstream_sent_reads_back_on_the_point_path(tmp_path: Path) -> None:
    """orjson refuses an escaped lone surrogate; the row is then decoded by the standard library."""
    url = f"sqlite+aiosqlite:///{tmp_path / 'imagine.db'}"
    upgrade(url)
    task = dataclasses.replace(a_task_with_every_kind_of_value(), params={"odd": "\ud800 half a pair"})

    async def scenario() -> tuple[list[Task], object]:
        db = Database(url)
        try:
            await store(db, task)
            point = await first_page(db)
            return await find_tasks_page(db, account_id=ACCOUNT, limit=5), point
        finally:
            await db.dispose()

    served, point = asyncio.run(scenario())
    assert isinstance(point, list)
    assert served == [task]
