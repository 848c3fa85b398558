"""The balance changes of a transaction's tasks, posted together just before it commits.

A posting moves three rows: its task's key's spend counters, its account's balance and a new
ledger row. A task change posts its own at once (a reservation, a capture and the release of the
rest); the creates of a group (``group_commit``) leave theirs to the group. On PostgreSQL the key's
and the account's rows stay locked from their update to the commit, and every other create of that
key or account waits on them: posted create by create, a group of creates held them from its first
create's update through every later create's statements, five round trips each. Posted together at
the end, each key's counters move once by the sum (in each task's day and month), each account's
balance once, and its ledger rows are written in one statement, each with the balance it left as
if posted one by one (``ledger.post_many``): the locks are held for a few round trips, whatever the
group's size. Keys and accounts are updated in the order of their ids, so two groups never wait on
each other's rows in a cycle.

When a sum does not fit (the balance, a cap), the group fails and its creates run again one by one,
so each one that does not fit fails alone, with its own error.

On PostgreSQL the common case, one account with at most one key's charge (a group of one customer's
creates, a task's capture), is one statement (``pg_postings``): the rows stay locked from it to the
commit, one round trip instead of three.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy.ext.asyncio import AsyncConnection

from imagine_gateway.core.budgets import day_of, month_of
from imagine_gateway.core.records import Task
from imagine_gateway.core.updates import Posting
from imagine_gateway.store import key_budgets, ledger, pg_postings


@dataclass
class Postings:
    """The postings of one transaction's tasks, in the order they were made, each with its time."""

    pending: list[tuple[Task, Posting, int]] = field(default_factory=list)

    def add(self, task: Task, posting: Posting, *, now_ms: int) -> None:
        self.pending.append((task, posting, now_ms))

    async def post(self, conn: AsyncConnection) -> None:
        """Charge the keys (what a task gets back gives back), then move the balances and write the
        ledger rows; raises (and so rolls the transaction back) ``key_budget_exceeded`` or
        ``insufficient_credits`` when a sum does not fit."""
        charges: dict[tuple[str, int, int], tuple[int, int]] = {}  # (key, day, month): (credits, a time)
        entries: dict[str, list[ledger.Entry]] = {}
        for task, posting, now_ms in self.pending:
            if task.api_key_id is not None:
                period = (task.api_key_id, day_of(task.created_at), month_of(task.created_at))
                credits, _ = charges.get(period, (0, task.created_at))
                charges[period] = (credits - posting.amount, task.created_at)
            entry = ledger.Entry(
                posting.kind, posting.amount, now_ms, posting.reserved_delta, task_id=task.id
            )
            entries.setdefault(task.account_id, []).append(entry)
        if await self._post_in_one(conn, charges, entries):
            self.pending.clear()
            return
        for (key_id, _, _), (credits, created_at) in sorted(charges.items()):
            await key_budgets.charge(conn, key_id=key_id, credits=credits, task_created_at=created_at)
        for account_id, posted in sorted(entries.items()):
            await ledger.post_many(conn, account_id=account_id, entries=posted)
        self.pending.clear()

    @staticmethod
    async def _post_in_one(
        conn: AsyncConnection,
        charges: dict[tuple[str, int, int], tuple[int, int]],
        entries: dict[str, list[ledger.Entry]],
    ) -> bool:
        """On PostgreSQL, one account's postings with at most one key's charge (a group of one
        customer's creates, a task's capture) in one statement (``pg_postings``); False: post
        step by step."""
        if conn.dialect.name != "postgresql" or len(entries) != 1 or len(charges) > 1:
            return False
        ((account_id, posted),) = entries.items()
        if not pg_postings.fits(posted):
            return False
        key_id, credits, created_at = None, 0, 0
        if charges:
            (((key_id, _, _), (credits, created_at)),) = charges.items()
            if credits < 0:
                return False  # a give-back: it never fails, and takes another statement's shape
            if credits == 0:
                key_id = None  # nothing to count, and no cap to check (as ``charge`` skips it)
        return await pg_postings.post(
            conn,
            account_id=account_id,
            entries=posted,
            key_id=key_id,
            credits=credits,
            task_created_at=created_at,
        )
