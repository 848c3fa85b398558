"""Balance changes. Each one is a conditional update of the account plus its ledger row, run on the
caller's connection so it commits or rolls back with the task change that causes it."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal, NoReturn

from sqlalchemy import BigInteger, bindparam, func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from imagine_gateway.core.errors import InsufficientCredits, NotFound
from imagine_gateway.core.records import LedgerEntry
from imagine_gateway.store.prepared import prepared
from imagine_gateway.store.tables import accounts, ledger

LedgerKind = Literal["topup", "reserve", "capture", "release", "adjust"]

# Built once with bound parameters: every reservation, capture and release runs them.
_AMOUNT = bindparam("l_amount", type_=BigInteger)
_RESERVED = bindparam("l_reserved", type_=BigInteger)
MOVE = prepared(
    update(accounts)
    .where(
        accounts.c.id == bindparam("l_account"),
        accounts.c.balance + _AMOUNT >= 0,
        accounts.c.reserved + _RESERVED >= 0,
    )
    .values(balance=accounts.c.balance + _AMOUNT, reserved=accounts.c.reserved + _RESERVED)
    .returning(accounts.c.balance)
)
_INSERT = prepared(insert(ledger))


@dataclass(frozen=True, slots=True)
class Entry:
    """One ledger row to post: its kind, the change of balance and of reserved, and what caused it."""

    kind: LedgerKind
    amount: int
    now_ms: int
    reserved_delta: int = 0
    task_id: str | None = None
    note: str | None = None
    reference: str | None = None


async def post(
    conn: AsyncConnection,
    *,
    account_id: str,
    kind: LedgerKind,
    amount: int,
    reserved_delta: int = 0,
    task_id: str | None = None,
    note: str | None = None,
    reference: str | None = None,
    now_ms: int,
) -> int:
    """Change the balance by ``amount`` (and reserved by ``reserved_delta``); returns the new balance.

    The update only matches while the result stays non-negative, so concurrent reservations can
    never overdraw: the losers see no row and get ``insufficient_credits``.
    """
    entry = Entry(kind, amount, now_ms, reserved_delta, task_id, note, reference)
    return await post_many(conn, account_id=account_id, entries=[entry])


async def post_many(conn: AsyncConnection, *, account_id: str, entries: Sequence[Entry]) -> int:
    """Post ``entries`` to one account with one update of its balance by their sum (all of them or,
    when the sum does not fit, none: ``insufficient_credits``); returns the new balance.

    Each row's ``balance_after`` is the balance before them plus the entries up to it, as if they
    had been posted one by one in order.
    """
    amount = sum(e.amount for e in entries)
    result = await conn.execute(
        MOVE,
        {"l_account": account_id, "l_amount": amount, "l_reserved": sum(e.reserved_delta for e in entries)},
    )
    balance = result.scalar_one_or_none()
    if balance is None:
        await refuse(conn, account_id=account_id, amount=amount)
    after = int(balance) - amount
    rows = []
    for e in entries:
        after += e.amount
        rows.append(
            {
                "account_id": account_id,
                "task_id": e.task_id,
                "kind": e.kind,
                "amount": e.amount,
                "reserved_delta": e.reserved_delta,
                "balance_after": after,
                "note": e.note,
                "reference": e.reference,
                "created_at": e.now_ms,
            }
        )
    await conn.execute(_INSERT, rows[0] if len(rows) == 1 else rows)
    return int(balance)


async def refuse(conn: AsyncConnection, *, account_id: str, amount: int) -> NoReturn:
    """Why a move by ``amount`` matched no row: the account does not exist, or its balance is short."""
    exists = await conn.scalar(select(accounts.c.balance).where(accounts.c.id == account_id))
    if exists is None:
        raise NotFound(f"Account {account_id} does not exist.")
    raise InsufficientCredits(f"This needs {-amount} credits; the account has {exists} available.")


async def entries(conn: AsyncConnection, account_id: str, *, limit: int = 100) -> list[LedgerEntry]:
    rows = await conn.execute(
        select(ledger).where(ledger.c.account_id == account_id).order_by(ledger.c.id.desc()).limit(limit)
    )
    return [LedgerEntry.from_row(r) for r in rows.mappings()]


async def sums(conn: AsyncConnection, account_id: str) -> tuple[int, int]:
    """(sum of amounts, sum of reserved deltas): must equal (balance, reserved)."""
    row = (
        await conn.execute(
            select(
                func.coalesce(func.sum(ledger.c.amount), 0),
                func.coalesce(func.sum(ledger.c.reserved_delta), 0),
            ).where(ledger.c.account_id == account_id)
        )
    ).one()
    return int(row[0]), int(row[1])
