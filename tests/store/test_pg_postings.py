"""On PostgreSQL, one account's postings with its key's charge run as one statement, and leave
exactly the rows the step-by-step path leaves: the key's counters, the balance, the ledger rows
with the balance each one left, and the same error (the key's cap first, then the balance) with
nothing changed. It locks the key before the account, as the step-by-step path does, so the two
never deadlock on a pair of rows."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from sqlalchemy import delete, insert, select

from imagine_gateway.core.errors import InsufficientCredits, KeyBudgetExceeded
from imagine_gateway.store import key_budgets, ledger, pg_postings
from imagine_gateway.store.db import Database
from imagine_gateway.store.migrate import upgrade
from imagine_gateway.store.tables import accounts, api_keys
from imagine_gateway.store.tables import ledger as ledger_rows
from tests.scaleout.conftest import pg_url

__all__ = ["pg_url"]

pytestmark = pytest.mark.postgres

CREATED_AT = 1_800_000_000_000


def entries(run: str) -> list[ledger.Entry]:
    """Two reservations and a capture of the first. A task posts each kind once, in any account:
    each run has its own task ids (``task_a.<run>``), which ``facts`` reads back without the run."""
    return [
        ledger.Entry("reserve", -10, CREATED_AT, 10, task_id=f"task_a.{run}"),
        ledger.Entry("reserve", -25, CREATED_AT + 1, 25, task_id=f"task_b.{run}"),
        ledger.Entry("capture", 0, CREATED_AT + 2, -10, task_id=f"task_a.{run}"),
    ]


async def seed(db: Database, name: str, *, balance: int, cap: int | None = None) -> tuple[str, str]:
    account_id, key_id = f"acct_{name}", f"key_{name}"
    async with db.write() as conn:
        await conn.execute(
            insert(accounts).values(id=account_id, name=name, balance=balance, reserved=0, created_at=1)
        )
        await conn.execute(
            insert(api_keys).values(
                id=key_id,
                account_id=account_id,
                name=name,
                prefix="igw_sk_x",
                secret_hash=f"hash_{name}",
                scopes=[],
                created_at=1,
                limit_daily=cap,
            )
        )
    return account_id, key_id


async def facts(db: Database, account_id: str, key_id: str) -> dict[str, Any]:
    async with db.read() as conn:
        balance, reserved = (
            await conn.execute(
                select(accounts.c.balance, accounts.c.reserved).where(accounts.c.id == account_id)
            )
        ).one()
        key = (
            await conn.execute(
                select(api_keys.c.spent_total, api_keys.c.spent_daily, api_keys.c.spent_monthly).where(
                    api_keys.c.id == key_id
                )
            )
        ).first()
        rows = (
            await conn.execute(
                select(
                    ledger_rows.c.task_id,
                    ledger_rows.c.kind,
                    ledger_rows.c.amount,
                    ledger_rows.c.reserved_delta,
                    ledger_rows.c.balance_after,
                    ledger_rows.c.created_at,
                )
                .where(ledger_rows.c.account_id == account_id)
                .order_by(ledger_rows.c.id)
            )
        ).all()
    return {
        "balance": balance,
        "reserved": reserved,
        "key": None if key is None else tuple(key),
        "ledger": [(r[0] and r[0].split(".")[0], *r[1:]) for r in rows],
    }


async def in_one(db: Database, account_id: str, key_id: str | None, credits: int, run: str = "one") -> bool:
    async with db.write() as conn:
        return await pg_postings.post(
            conn,
            account_id=account_id,
            entries=entries(run),
            key_id=key_id,
            credits=credits,
            task_created_at=CREATED_AT,
        )


async def step_by_step(db: Database, account_id: str, key_id: str, credits: int) -> None:
    async with db.write() as conn:
        await key_budgets.charge(conn, key_id=key_id, credits=credits, task_created_at=CREATED_AT)
        await ledger.post_many(conn, account_id=account_id, entries=entries("steps"))


async def outcome(run: Any) -> Any:
    try:
        return await run
    except (KeyBudgetExceeded, InsufficientCredits) as exc:
        return type(exc).__name__, str(exc)


async def both_paths(url: str, *, balance: int, cap: int | None) -> list[Any]:
    db = Database(url)
    try:
        one = await seed(db, "one", balance=balance, cap=cap)
        steps = await seed(db, "steps", balance=balance, cap=cap)
        answered = await outcome(in_one(db, *one, 35))
        stepped = await outcome(step_by_step(db, *steps, 35))
        return [answered, stepped, await facts(db, *one), await facts(db, *steps)]
    finally:
        await db.dispose()


def test_postings_in_one_statement_leave_the_rows_posting_them_step_by_step_leaves(pg_url: str) -> None:
    upgrade(pg_url)

    answered, stepped, one, steps = asyncio.run(both_paths(pg_url, balance=100, cap=None))

    assert (answered, stepped) == (True, None)
    assert (
        one
        == steps
        == {
            "balance": 65,
            "reserved": 25,
            "key": (35, 35, 35),
            "ledger": [
                ("task_a", "reserve", -10, 10, 90, CREATED_AT),
                ("task_b", "reserve", -25, 25, 65, CREATED_AT + 1),
                ("task_a", "capture", 0, -10, 65, CREATED_AT + 2),
            ],
        }
    )


@pytest.mark.parametrize(
    ("balance", "cap", "error"),
    [
        (100, 30, "KeyBudgetExceeded"),  # the cap is checked first...
        (20, 30, "KeyBudgetExceeded"),  # ...even when the balance is short too
        (20, None, "InsufficientCredits"),
    ],
)
def test_what_does_not_fit_fails_with_the_step_by_step_error_and_changes_nothing(
    pg_url: str, balance: int, cap: int | None, error: str
) -> None:
    upgrade(pg_url)

    answered, stepped, one, steps = asyncio.run(both_paths(pg_url, balance=balance, cap=cap))

    assert answered == stepped and answered[0] == error
    assert one == steps == {"balance": balance, "reserved": 0, "key": (0, 0, 0), "ledger": []}


def test_a_key_that_no_longer_exists_changes_nothing_and_is_left_to_the_step_by_step_path(
    pg_url: str,
) -> None:
    upgrade(pg_url)

    async def scenario() -> tuple[bool, dict[str, Any]]:
        db = Database(pg_url)
        try:
            account_id, key_id = await seed(db, "gone", balance=100)
            async with db.write() as conn:
                await conn.execute(delete(api_keys).where(api_keys.c.id == key_id))
            answered = await in_one(db, account_id, key_id, 35)
            return answered, await facts(db, account_id, key_id)
        finally:
            await db.dispose()

    assert asyncio.run(scenario()) == (
        False,
        {"balance": 100, "reserved": 0, "key": None, "ledger": []},
    )


def test_it_and_a_give_back_step_by_step_never_deadlock_on_one_key_and_account(pg_url: str) -> None:
    """Forty charges in one statement against forty give-backs step by step (key, then account), all
    at once on the same two rows: every one commits, and the counters end where they began plus the
    charges less the give-backs."""
    upgrade(pg_url)

    async def give_back(db: Database, account_id: str, key_id: str) -> None:
        async with db.write() as conn:
            await key_budgets.charge(conn, key_id=key_id, credits=-1, task_created_at=CREATED_AT)
            await ledger.post(conn, account_id=account_id, kind="adjust", amount=1, now_ms=CREATED_AT)

    async def scenario() -> dict[str, Any]:
        db = Database(pg_url)
        try:
            account_id, key_id = await seed(db, "busy", balance=10_000)
            async with db.write() as conn:  # something to give back
                await key_budgets.charge(conn, key_id=key_id, credits=40, task_created_at=CREATED_AT)
            runs = [in_one(db, account_id, key_id, 35, str(run)) for run in range(40)]
            runs += [give_back(db, account_id, key_id) for _ in range(40)]
            results = await asyncio.gather(*runs, return_exceptions=True)
            errors = [repr(r) for r in results if isinstance(r, BaseException)]
            found = await facts(db, account_id, key_id)
            return {"errors": errors, "balance": found["balance"], "key": found["key"]}
        finally:
            await db.dispose()

    assert asyncio.run(scenario()) == {
        "errors": [],
        "balance": 10_000 - 40 * 35 + 40,
        "key": (40 * 35, 40 * 35, 40 * 35),
    }
