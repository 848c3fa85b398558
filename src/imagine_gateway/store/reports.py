"""Reads for customers and operators: ledger pages, usage, the margin report, tasks of any account.

Usage and the report count a task once its reservation is settled (captured or released), in the
UTC day it was created, with the credits its ledger rows took from the balance, net: the sum of
the ``credits`` they show is exactly minus the sum of those tasks' ledger amounts.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Literal

from sqlalchemy import ColumnElement, Select, case, func, select
from sqlalchemy.ext.asyncio import AsyncConnection

from imagine_gateway.core.records import LedgerEntry, Task
from imagine_gateway.store.pagination import keyset_page
from imagine_gateway.store.tables import ledger, tasks

DAY_MS = 86_400_000
Dimension = Literal["day", "model", "provider", "account", "key"]


async def ledger_page(
    conn: AsyncConnection, account_id: str, *, before_id: int | None, limit: int
) -> list[LedgerEntry]:
    """The account's ledger rows newest first (by id), each with its task's model and key."""
    query = (
        select(ledger, tasks.c.model, tasks.c.api_key_id)
        .select_from(ledger.outerjoin(tasks, tasks.c.id == ledger.c.task_id))
        .where(ledger.c.account_id == account_id)
    )
    if before_id is not None:
        query = query.where(ledger.c.id < before_id)
    rows = await conn.execute(query.order_by(ledger.c.id.desc()).limit(limit))
    return [LedgerEntry.from_row(r) for r in rows.mappings()]


async def task_charge(conn: AsyncConnection, task_id: str) -> int:
    """The credits a task's ledger rows took from the balance so far, net."""
    taken = await conn.scalar(
        select(func.coalesce(-func.sum(ledger.c.amount), 0)).where(ledger.c.task_id == task_id)
    )
    return int(taken or 0)


async def reference_used(conn: AsyncConnection, account_id: str, reference: str) -> bool:
    """Whether a ledger row of the account already carries this external reference."""
    found = await conn.scalar(
        select(ledger.c.id).where(ledger.c.account_id == account_id, ledger.c.reference == reference)
    )
    return found is not None


def _settled(start_ms: int, end_ms: int, account_id: str | None) -> Any:
    """One row per settled task created in [start_ms, end_ms): its groups, cost and net credits."""
    net = (
        select(func.coalesce(-func.sum(ledger.c.amount), 0))
        .where(ledger.c.task_id == tasks.c.id)
        .scalar_subquery()
    )
    query = select(
        (tasks.c.created_at // DAY_MS).label("day"),
        tasks.c.model.label("model"),
        func.coalesce(tasks.c.provider, "").label("provider"),
        tasks.c.account_id.label("account"),
        func.coalesce(tasks.c.api_key_id, "").label("key"),
        tasks.c.credits_state,
        func.coalesce(tasks.c.upstream_cost_ticks, 0).label("cost_ticks"),
        net.label("credits"),
    ).where(
        tasks.c.created_at >= start_ms,
        tasks.c.created_at < end_ms,
        tasks.c.credits_state != "reserved",
    )
    if account_id is not None:
        query = query.where(tasks.c.account_id == account_id)
    return query.subquery()


async def usage(
    conn: AsyncConnection, account_id: str, *, start_ms: int, end_ms: int, group_by: Dimension
) -> list[tuple[Any, int, int]]:
    """(group, tasks charged, credits) per group, in group order."""
    rows = _settled(start_ms, end_ms, account_id)
    group = rows.c[group_by]
    charged = func.sum(case((rows.c.credits_state == "captured", 1), else_=0))
    query: Select[Any] = (
        select(group, func.coalesce(charged, 0), func.coalesce(func.sum(rows.c.credits), 0))
        .group_by(group)
        .order_by(group)
    )
    return [(g, int(n), int(c)) for g, n, c in (await conn.execute(query)).all()]


async def margin(
    conn: AsyncConnection,
    *,
    start_ms: int,
    end_ms: int,
    group_by: Sequence[Dimension],
    account_id: str | None = None,
) -> list[tuple[tuple[Any, ...], int, int, int]]:
    """((group values...), tasks, revenue credits, upstream cost ticks) per group, in group order."""
    rows = _settled(start_ms, end_ms, account_id)
    groups: list[ColumnElement[Any]] = [rows.c[name] for name in group_by]
    query: Select[Any] = select(
        *groups,
        func.count(),
        func.coalesce(func.sum(rows.c.credits), 0),
        func.coalesce(func.sum(rows.c.cost_ticks), 0),
    )
    if groups:
        query = query.group_by(*groups).order_by(*groups)
    out = []
    for row in (await conn.execute(query)).all():
        *values, count, credits, ticks = row
        out.append((tuple(values), int(count), int(credits), int(ticks)))
    return out


async def any_account_tasks(
    conn: AsyncConnection, *, account_id: str | None, before: tuple[int, str] | None, limit: int
) -> list[Task]:
    """Tasks of every account (or one), newest first, keyset-paginated on (created_at, id)."""
    query = select(tasks)
    if account_id is not None:
        query = query.where(tasks.c.account_id == account_id)
    query = keyset_page(query, tasks, before=before, limit=limit)
    return [Task.from_row(r) for r in (await conn.execute(query)).mappings()]
