"""A key's spend counters (``core.budgets``), moved on the caller's transaction with each posting
of one of the key's tasks.

A charge is one conditional ``UPDATE`` of the key's row: it matches only while every cap still
holds after it, so concurrent creates can never pass a cap together (PostgreSQL re-checks the
condition on the row each waiting writer finally updates; SQLite has one writer). A give-back (a
refund, or what a settlement releases) never fails and never takes a counter below zero.
"""

from __future__ import annotations

from sqlalchemy import BigInteger, ColumnElement, Integer, String, bindparam, case, or_, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from imagine_gateway.core.budgets import day_of, month_of
from imagine_gateway.core.errors import KeyBudgetExceeded
from imagine_gateway.store.prepared import prepared
from imagine_gateway.store.tables import api_keys as keys

_ID = bindparam("k_id", type_=String)
_AMOUNT = bindparam("k_amount", type_=BigInteger)
_DAY = bindparam("k_day", type_=Integer)
_MONTH = bindparam("k_month", type_=Integer)

# A counter of an older period starts again; a clock slightly behind another process's (around
# midnight) counts into the newer period rather than resetting it.
_DAILY = case((keys.c.spent_day >= _DAY, keys.c.spent_daily), else_=0)
_MONTHLY = case((keys.c.spent_month >= _MONTH, keys.c.spent_monthly), else_=0)

CHARGE = prepared(
    update(keys)
    .where(
        keys.c.id == _ID,
        or_(keys.c.limit_total.is_(None), keys.c.spent_total + _AMOUNT <= keys.c.limit_total),
        or_(keys.c.limit_daily.is_(None), keys.c.limit_daily >= _DAILY + _AMOUNT),
        or_(keys.c.limit_monthly.is_(None), keys.c.limit_monthly >= _MONTHLY + _AMOUNT),
    )
    .values(
        spent_total=keys.c.spent_total + _AMOUNT,
        spent_daily=_DAILY + _AMOUNT,
        spent_day=case((keys.c.spent_day > _DAY, keys.c.spent_day), else_=_DAY),
        spent_monthly=_MONTHLY + _AMOUNT,
        spent_month=case((keys.c.spent_month > _MONTH, keys.c.spent_month), else_=_MONTH),
    )
)


def _less(counter: ColumnElement[int], *, when: ColumnElement[bool] | None = None) -> ColumnElement[int]:
    """``counter`` less the give-back, floored at zero (only ``when`` it names the task's period)."""
    lower = case((counter > _AMOUNT, counter - _AMOUNT), else_=0)
    return lower if when is None else case((when, lower), else_=counter)


_GIVE_BACK = prepared(
    update(keys)
    .where(keys.c.id == _ID)
    .values(
        spent_total=_less(keys.c.spent_total),
        spent_daily=_less(keys.c.spent_daily, when=keys.c.spent_day == _DAY),
        spent_monthly=_less(keys.c.spent_monthly, when=keys.c.spent_month == _MONTH),
    )
)


async def charge(conn: AsyncConnection, *, key_id: str, credits: int, task_created_at: int) -> None:
    """Count ``credits`` a task of the key takes from the balance (negative: gives back).

    A charge over one of the key's caps raises ``key_budget_exceeded``, which rolls the caller's
    transaction (the task and its reservation) back.
    """
    if credits == 0:
        return
    day, month = day_of(task_created_at), month_of(task_created_at)
    params = {"k_id": key_id, "k_day": day, "k_month": month}
    if credits < 0:
        await conn.execute(_GIVE_BACK, {**params, "k_amount": -credits})
        return
    result = await conn.execute(CHARGE, {**params, "k_amount": credits})
    if result.rowcount != 1:
        over = await over_caps(conn, key_id, credits, day, month)
        if over is not None:
            raise over


async def over_caps(
    conn: AsyncConnection, key_id: str, credits: int, day: int, month: int
) -> KeyBudgetExceeded | None:
    """The error that says which cap the charge would pass (None: the key no longer exists)."""
    row = (await conn.execute(select(keys).where(keys.c.id == key_id))).mappings().first()
    if row is None:
        return None
    daily = row["spent_daily"] if row["spent_day"] >= day else 0
    monthly = row["spent_monthly"] if row["spent_month"] >= month else 0
    for name, cap, spent in (
        ("total", row["limit_total"], row["spent_total"]),
        ("daily", row["limit_daily"], daily),
        ("monthly", row["limit_monthly"], monthly),
    ):
        if cap is not None and spent + credits > cap:
            return KeyBudgetExceeded(
                f"This needs {credits} credits; the API key's {name} cap is {cap} credits and "
                f"{spent} are spent, so {max(cap - spent, 0)} remain."
            )
    return KeyBudgetExceeded(f"This needs {credits} credits, more than the API key's caps allow.")


__all__ = ["charge"]
