"""What a fault scenario checks at its end, read straight from the gateway's database."""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from dataclasses import dataclass, field

from sqlalchemy import func, select

from imagine_gateway.store import ledger
from imagine_gateway.store.db import Database
from imagine_gateway.store.tables import accounts, files, tasks
from imagine_gateway.store.tables import ledger as ledger_table

TERMINAL = ("succeeded", "failed", "canceled")


@dataclass(frozen=True)
class AccountFacts:
    """Balance, reservation, ledger sums, the account's tasks by state and error code, its ledger
    rows per task and kind, and per kind (top-ups included)."""

    balance: int
    reserved: int
    ledger_sums: tuple[int, int]
    states: Counter[str]
    errors: Counter[str]
    postings: Counter[tuple[str, str]] = field(default_factory=Counter)
    kinds: Counter[str] = field(default_factory=Counter)

    @property
    def tasks(self) -> int:
        return sum(self.states.values())

    @property
    def balanced(self) -> bool:
        """The ledger sums to the balance and to the reservation, and nothing stays reserved."""
        return self.ledger_sums == (self.balance, self.reserved) and self.reserved == 0

    @property
    def charged_at_most_once(self) -> bool:
        """No task holds more than one reserve, capture or release row."""
        return all(count == 1 for count in self.postings.values())


async def _read(url: str, account_id: str) -> AccountFacts:
    db = Database(url)
    try:
        async with db.read(snapshot=True) as conn:
            balance, reserved = (
                await conn.execute(
                    select(accounts.c.balance, accounts.c.reserved).where(accounts.c.id == account_id)
                )
            ).one()
            sums = await ledger.sums(conn, account_id)
            rows = (
                await conn.execute(
                    select(tasks.c.state, tasks.c.error_code).where(tasks.c.account_id == account_id)
                )
            ).all()
            postings = (
                await conn.execute(
                    select(ledger_table.c.task_id, ledger_table.c.kind, func.count())
                    .where(ledger_table.c.account_id == account_id, ledger_table.c.task_id.is_not(None))
                    .group_by(ledger_table.c.task_id, ledger_table.c.kind)
                )
            ).all()
            kinds = (
                await conn.execute(
                    select(ledger_table.c.kind, func.count())
                    .where(ledger_table.c.account_id == account_id)
                    .group_by(ledger_table.c.kind)
                )
            ).all()
    finally:
        await db.dispose()
    return AccountFacts(
        balance=int(balance),
        reserved=int(reserved),
        ledger_sums=sums,
        states=Counter(state for state, _ in rows),
        errors=Counter(code for _, code in rows if code),
        postings=Counter({(task_id, kind): count for task_id, kind, count in postings}),
        kinds=Counter({kind: count for kind, count in kinds}),
    )


def account_facts(url: str, account_id: str) -> AccountFacts:
    """The account's facts now (a connection of its own, closed after)."""
    return asyncio.run(_read(url, account_id))


def wait_all_ended(url: str, account_id: str, *, timeout_s: float) -> AccountFacts:
    """Wait until every task of the account has ended; its facts then (raises when time runs out)."""
    deadline = time.monotonic() + timeout_s
    while True:
        facts = account_facts(url, account_id)
        live = {s: n for s, n in facts.states.items() if s not in TERMINAL}
        if not live:
            return facts
        if time.monotonic() > deadline:
            raise AssertionError(f"tasks still live after {timeout_s} s: {live}")
        time.sleep(0.2)


def file_rows(url: str, account_id: str) -> int:
    """How many uploaded files the account has."""

    async def count() -> int:
        db = Database(url)
        try:
            async with db.read() as conn:
                found = await conn.scalar(
                    select(func.count()).select_from(files).where(files.c.account_id == account_id)
                )
        finally:
            await db.dispose()
        return int(found or 0)

    return asyncio.run(count())
