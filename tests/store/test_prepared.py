"""Prepared statements: a quick write on SQLite runs the store's hot statements on the driver
itself, and what it stores, returns and raises is what SQLAlchemy's execution stores, returns and
raises; what a plan cannot cover runs through SQLAlchemy."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Column, Integer, MetaData, String, Table, bindparam, insert, select, update
from sqlalchemy.exc import IntegrityError

from imagine_gateway.store import ledger
from imagine_gateway.store import tasks as task_store
from imagine_gateway.store.db import Database
from imagine_gateway.store.migrate import upgrade
from imagine_gateway.store.prepared import MAX_LIST, Plan, prepared
from imagine_gateway.store.tables import accounts, tasks
from tests.tasks import new_task


def stored_row(path: Path, table: str, where: str) -> tuple[Any, ...]:
    """A row as SQLite holds it: the bytes each path wrote, before any conversion reads them."""
    with sqlite3.connect(path) as raw:
        return tuple(raw.execute(f"SELECT * FROM {table} WHERE {where}").fetchone())


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    path = tmp_path / "imagine.db"
    upgrade(f"sqlite+aiosqlite:///{path}")
    return path


async def create_on_both_paths(db: Database) -> None:
    async with db.write() as conn:
        await conn.execute(
            insert(accounts).values(id="acct_1", name="a", balance=100, reserved=0, created_at=1)
        )
    async with db.write(quick=True) as conn:  # the driver itself
        await task_store.insert_task(conn, new_task("task_direct"))
    async with db.write() as conn:  # SQLAlchemy's execution, on aiosqlite
        await task_store.insert_task(conn, new_task("task_sqlalchemy"))


def test_a_quick_write_stores_what_sqlalchemy_stores(db_path: Path) -> None:
    db = Database(f"sqlite+aiosqlite:///{db_path}")
    try:
        asyncio.run(create_on_both_paths(db))
        assert isinstance(db.plans.get(task_store._INSERT_TASK, new_task("t").task.to_row()), Plan)
    finally:
        asyncio.run(db.dispose())

    direct = stored_row(db_path, "tasks", "id = 'task_direct'")
    framework = stored_row(db_path, "tasks", "id = 'task_sqlalchemy'")
    assert direct[1:] == framework[1:]
    assert (
        direct[5] == '{"duration": 6, "aspect_ratio": "16:9", "nested": {"seed": null, "tags": ["a", "b"]}}'
    )
    ledger_rows = [
        stored_row(db_path, "ledger", f"task_id = '{t}'") for t in ("task_direct", "task_sqlalchemy")
    ]
    assert [row[2:] for row in ledger_rows] == [
        ("task_direct", "reserve", -10, 10, 90, None, 1_800_000_000_000, None),
        ("task_sqlalchemy", "reserve", -10, 10, 80, None, 1_800_000_000_000, None),
    ]


async def claim_and_fail(db: Database) -> tuple[list[Any], Any, Any]:
    await create_on_both_paths(db)
    async with db.write(quick=True) as conn:
        claimed = await task_store.claim_due(
            conn, owner="w1", now_ms=1_800_000_000_001, lease_ms=1000, limit=5, skip_locked=False
        )
        moved = await ledger.post(conn, account_id="acct_1", kind="adjust", amount=-5, now_ms=2)
    async with db.write(quick=True) as conn:
        with pytest.raises(IntegrityError) as duplicate:
            await task_store.insert_task(conn, new_task("task_direct"))
    return claimed, moved, duplicate.value


def test_rows_come_back_converted_and_errors_are_sqlalchemys(db_path: Path) -> None:
    db = Database(f"sqlite+aiosqlite:///{db_path}")
    try:
        claimed, balance, duplicate = asyncio.run(claim_and_fail(db))
    finally:
        asyncio.run(db.dispose())

    assert sorted((t.id, t.lease_owner, t.fence, t.params["nested"]["tags"]) for t in claimed) == [
        ("task_direct", "w1", 1, ["a", "b"]),
        ("task_sqlalchemy", "w1", 1, ["a", "b"]),
    ]
    assert balance == 75
    assert isinstance(duplicate.orig, sqlite3.IntegrityError)
    assert "UNIQUE constraint failed: tasks.id" in str(duplicate)


def test_what_a_plan_cannot_cover_is_left_to_sqlalchemy(db_path: Path) -> None:
    counters = Table(
        "counters",
        MetaData(),
        Column("id", String, primary_key=True),
        Column("n", Integer, default=lambda: 7),  # computed per row
        Column("label", String, default="fixed"),  # a constant
    )
    unmarked = update(tasks).where(tasks.c.id == bindparam("t")).values(progress=1)
    listed = prepared(select(tasks.c.id).where(tasks.c.id.in_(bindparam("ids", expanding=True))))
    listed_update = prepared(
        update(tasks).where(tasks.c.id.in_(bindparam("ids", expanding=True))).values(progress=bindparam("p"))
    )
    per_row = prepared(insert(counters))
    db = Database(f"sqlite+aiosqlite:///{db_path}")
    try:
        plans = db.plans
        assert plans.get(unmarked, {"t": "x"}) is None
        assert plans.get(listed, {"ids": ["a"] * (MAX_LIST + 1)}) is None  # one plan per length: bounded
        assert plans.get(listed, {"ids": ("a", "b")}) is None  # not a list
        assert plans.get(listed_update, [{"ids": ["a"], "p": 1}, {"ids": ["b", "c"], "p": 2}]) is None
        assert plans.get(per_row, {"id": "c"}) is None  # n's default is a function
        fixed = plans.get(per_row, {"id": "c", "n": 1})
        assert fixed is not None and fixed.values({"id": "c", "n": 1}) == ["c", 1, "fixed"]
        assert plans.get(ledger._INSERT, [{"a": 1}, {"b": 2}]) is None  # sets that differ
        assert plans.get(task_store._INSERT_TASK, new_task("t").task.to_row()) is not None
    finally:
        asyncio.run(db.dispose())


class Boom(Exception):
    pass


async def mixed_writes(db: Database) -> list[tuple[str, str]]:
    await create_on_both_paths(db)
    rename = update(accounts).where(accounts.c.id == "acct_1")
    async with db.write(quick=True) as conn:  # a plan and a statement SQLAlchemy runs: one commit
        await task_store.insert_task(conn, new_task("task_mixed"))
        await conn.execute(rename.values(name="renamed"))
    for also_sqlalchemy in (True, False):  # either way the transaction rolls back whole
        with pytest.raises(Boom):
            async with db.write(quick=True) as conn:
                await task_store.insert_task(conn, new_task(f"task_lost_{also_sqlalchemy}"))
                if also_sqlalchemy:
                    await conn.execute(rename.values(name="lost"))
                raise Boom
    async with db.write(quick=True) as conn:  # and the next one begins cleanly
        await task_store.insert_task(conn, new_task("task_after"))
    async with db.read() as conn:
        ids = (await conn.execute(select(tasks.c.id).order_by(tasks.c.id))).scalars().all()
        name = await conn.scalar(select(accounts.c.name))
    return [("name", name), *(("task", i) for i in ids)]


def test_a_quick_write_commits_or_rolls_back_whole_whichever_path_ran_its_statements(db_path: Path) -> None:
    db = Database(f"sqlite+aiosqlite:///{db_path}")
    try:
        seen = asyncio.run(mixed_writes(db))
    finally:
        asyncio.run(db.dispose())

    assert seen == [
        ("name", "renamed"),
        ("task", "task_after"),
        ("task", "task_direct"),
        ("task", "task_mixed"),
        ("task", "task_sqlalchemy"),
    ]


LISTED = prepared(
    select(tasks.c.id, tasks.c.progress)
    .where(tasks.c.id.in_(bindparam("ids", expanding=True)), tasks.c.state.in_(["queued", "running"]))
    .order_by(tasks.c.id)
)


async def read_listed(db: Database) -> list[tuple[str, list[Any]]]:
    await create_on_both_paths(db)
    asked = [[], ["task_direct"], ["task_sqlalchemy", "task_direct", "task_none"], ["task_direct"]]
    seen = []
    for ids in asked:
        async with db.write(quick=True) as conn:  # the driver itself
            seen.append(("direct", [tuple(r) for r in await conn.execute(LISTED, {"ids": ids})]))
        async with db.write() as conn:  # SQLAlchemy's execution
            seen.append(("sqlalchemy", [tuple(r) for r in await conn.execute(LISTED, {"ids": ids})]))
    return seen


def test_an_in_list_of_the_callers_has_a_plan_for_each_length_and_reads_what_sqlalchemy_reads(
    db_path: Path,
) -> None:
    db = Database(f"sqlite+aiosqlite:///{db_path}")
    try:
        seen = asyncio.run(read_listed(db))
        one, three = db.plans.get(LISTED, {"ids": ["x"]}), db.plans.get(LISTED, {"ids": ["x", "y", "z"]})
    finally:
        asyncio.run(db.dispose())

    both = [("direct", rows) for rows in ([], [("task_direct", 0)])]
    both += [("direct", [("task_direct", 0), ("task_sqlalchemy", 0)]), ("direct", [("task_direct", 0)])]
    assert seen == [x for pair in both for x in (pair, ("sqlalchemy", pair[1]))]
    assert isinstance(one, Plan) and isinstance(three, Plan) and one is not three
    assert three.values({"ids": ["x", "y", "z"]}) == ["x", "y", "z", "queued", "running"]
