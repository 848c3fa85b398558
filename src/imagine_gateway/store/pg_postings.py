"""A transaction's postings to one account, with its one key's charge, in one statement on
PostgreSQL: how a group of creates (``postings``) posts in the common case.

Posted statement by statement, the key's charge, the account's move and the ledger rows are three
round trips, and from the first of them to the commit the key's and the account's rows stay locked,
so every other group of that account waits. On a busy event loop a round trip lasts the loop's turn,
not the network's tenth of a millisecond, and those waits were most of a group's time. Here the
three are data-modifying CTEs of one statement, built from the same constructs as the step-by-step
path (``key_budgets.CHARGE``, ``ledger.MOVE``); the account's move is conditioned on the key's
charge, so the key's row is locked first, as on that path (no two transactions lock the pair in
opposite orders), and the ledger rows come from arrays (``unnest``), in order, each with the
balance it left.

The statement answers whether the key was charged and the balance after the move. When either did
not match, the step-by-step path's error is raised, the key's cap first, then the balance, and the
raise rolls the caller's transaction back. A key that no longer exists changed nothing here: the
caller then posts step by step, which skips its charge as it always did.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from typing import Any

from sqlalchemy import ARRAY, BigInteger, String, bindparam, func, insert, select, true
from sqlalchemy.ext.asyncio import AsyncConnection

from imagine_gateway.core.budgets import day_of, month_of
from imagine_gateway.store import key_budgets, ledger
from imagine_gateway.store.prepared import prepared
from imagine_gateway.store.tables import api_keys
from imagine_gateway.store.tables import ledger as ledger_rows

_COLUMNS = ("task_id", "kind", "amount", "reserved_delta", "running", "created_at")
_TYPES = (String, String, BigInteger, BigInteger, BigInteger, BigInteger)


def _statement(*, with_key: bool) -> Any:
    move = ledger.MOVE
    charged = None
    if with_key:
        charged = key_budgets.CHARGE.returning(api_keys.c.id).cte("charged")
        move = move.where(select(charged.c.id).exists())
    moved = move.cte("moved")
    rows = (
        func.unnest(
            *(bindparam(f"p_{name}", type_=ARRAY(kind)) for name, kind in zip(_COLUMNS, _TYPES, strict=True))
        )
        .table_valued(*_COLUMNS, with_ordinality="ord")
        .render_derived()
    )
    # ``running``: the entries' amounts summed up to each row; the move's balance is after all of them.
    balance_after = moved.c.balance - bindparam("l_amount", type_=BigInteger) + rows.c.running
    posted = (
        insert(ledger_rows)
        .from_select(
            ["account_id", "task_id", "kind", "amount", "reserved_delta", "balance_after", "created_at"],
            select(
                bindparam("l_account", type_=String),
                rows.c.task_id,
                rows.c.kind,
                rows.c.amount,
                rows.c.reserved_delta,
                balance_after,
                rows.c.created_at,
            )
            .select_from(moved)
            .join(rows, true())
            .order_by(rows.c.ord),
        )
        .returning(ledger_rows.c.id)
        .cte("posted")
    )
    answers = [select(moved.c.balance).scalar_subquery().label("balance")]
    if charged is not None:
        answers.append(select(func.count()).select_from(charged).scalar_subquery().label("charged"))
    return prepared(select(*answers).add_cte(posted))


_WITH_KEY = _statement(with_key=True)
_WITHOUT_KEY = _statement(with_key=False)


def fits(entries: Sequence[ledger.Entry]) -> bool:
    """Whether these entries can be posted here: plain task postings (no note, no reference)."""
    return all(e.note is None and e.reference is None for e in entries)


async def post(
    conn: AsyncConnection,
    *,
    account_id: str,
    entries: Sequence[ledger.Entry],
    key_id: str | None,
    credits: int,
    task_created_at: int,
) -> bool:
    """Charge ``credits`` (> 0) to the key (when ``key_id``), move the account by the entries' sum
    and write their ledger rows, in one statement; False when the key no longer exists and nothing
    changed (post step by step then). Raises ``key_budget_exceeded`` or ``insufficient_credits``."""
    running = list(itertools.accumulate(e.amount for e in entries))
    amount = running[-1]  # the move is by the sum of all of them
    values: dict[str, Any] = {
        "l_account": account_id,
        "l_amount": amount,
        "l_reserved": sum(e.reserved_delta for e in entries),
        "p_task_id": [e.task_id for e in entries],
        "p_kind": [e.kind for e in entries],
        "p_amount": [e.amount for e in entries],
        "p_reserved_delta": [e.reserved_delta for e in entries],
        "p_running": running,
        "p_created_at": [e.now_ms for e in entries],
    }
    day, month = day_of(task_created_at), month_of(task_created_at)
    if key_id is not None:
        values |= {"k_id": key_id, "k_amount": credits, "k_day": day, "k_month": month}
    row = (await conn.execute(_WITH_KEY if key_id is not None else _WITHOUT_KEY, values)).one()
    balance = row[0]
    if key_id is not None and row[1] == 0:
        over = await key_budgets.over_caps(conn, key_id, credits, day, month)
        if over is None:
            return False  # the key is gone: its charge changed nothing, and nor did the move
        raise over
    if balance is None:
        await ledger.refuse(conn, account_id=account_id, amount=amount)
    return True
