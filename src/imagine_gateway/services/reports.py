"""What the credits bought: a customer's ledger and usage, the operator's margin report and tasks.

Usage and the report count a task once its reservation is settled, in the UTC day it was created
(``store.reports``). Revenue is the credits a task took, net, at ``IMAGINE_CREDIT_USD`` each;
upstream cost is what the upstream reported (xAI's ``cost_in_usd_ticks``); margin is their
difference.

    usage = await reports.usage(principal, start="2026-12-01", end="2026-12-31", group_by="model")
    usage.total.credits == sum(row.credits for row in usage.rows)
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

from imagine_gateway.core.clock import Clock
from imagine_gateway.core.cursor import decode_cursor, encode_cursor
from imagine_gateway.core.errors import NotFound, invalid
from imagine_gateway.core.money import Margin
from imagine_gateway.core.records import LedgerEntry, Task
from imagine_gateway.services.pagination import Page, page_of, read_cursor
from imagine_gateway.services.principal import Principal
from imagine_gateway.store import reports as report_store
from imagine_gateway.store import tasks as task_store
from imagine_gateway.store.db import Database

USAGE_GROUPS = ("day", "model", "key")
REPORT_GROUPS = ("day", "model", "provider", "account")
MAX_DAYS = 366 * 2


@dataclass(frozen=True)
class UsageRow:
    group: str
    tasks: int
    credits: int


@dataclass(frozen=True)
class Usage:
    start: date
    end: date
    group_by: str
    rows: list[UsageRow]

    @property
    def total(self) -> UsageRow:
        return UsageRow("total", sum(r.tasks for r in self.rows), sum(r.credits for r in self.rows))


@dataclass(frozen=True)
class ReportRow:
    """One group of the margin report; a dimension not grouped by is None."""

    groups: dict[str, str | None]
    tasks: int
    margin: Margin


@dataclass(frozen=True)
class Report:
    start: date
    end: date
    group_by: tuple[str, ...]
    rows: list[ReportRow]
    total: ReportRow


@dataclass(frozen=True)
class LedgerPage:
    items: list[LedgerEntry]
    next_cursor: str | None

    @property
    def has_more(self) -> bool:
        return self.next_cursor is not None


class ReportService:
    """Ledger pages, usage and margin; ``credit_usd`` is what one credit is worth."""

    def __init__(self, *, db: Database, clock: Clock, credit_usd: Decimal) -> None:
        self.db = db
        self.clock = clock
        self.credit_usd = credit_usd

    async def ledger(self, principal: Principal, *, cursor: str | None, limit: int) -> LedgerPage:
        """The caller's account's ledger, newest first; no other account's row is ever read."""
        before = None
        if cursor:
            _, row_id = decode_cursor(cursor)
            if not row_id.isdigit():
                raise invalid("cursor", "not a cursor this API returned")
            before = int(row_id)
        async with self.db.read() as conn:
            rows = await report_store.ledger_page(
                conn, principal.account_id, before_id=before, limit=limit + 1
            )
        items = rows[:limit]
        more = len(rows) > limit and bool(items)
        return LedgerPage(items, encode_cursor(items[-1].created_at, str(items[-1].id)) if more else None)

    async def usage(
        self, principal: Principal, *, start: str | None, end: str | None, group_by: str
    ) -> Usage:
        """The caller's spend per day, model or key between two UTC days (both included)."""
        if group_by not in USAGE_GROUPS:
            raise invalid("group_by", f"unknown grouping '{group_by[:40]}'", list(USAGE_GROUPS))
        first, last = _days(start, end, today=self._today())
        async with self.db.read(snapshot=True) as conn:
            rows = await report_store.usage(
                conn,
                principal.account_id,
                start_ms=_ms(first),
                end_ms=_ms(last + timedelta(days=1)),
                group_by=group_by,  # type: ignore[arg-type]  # checked against USAGE_GROUPS above
            )
        return Usage(first, last, group_by, [UsageRow(_group(group_by, g), n, c) for g, n, c in rows])

    async def margin(
        self,
        *,
        start: str | None,
        end: str | None,
        group_by: Sequence[str] = REPORT_GROUPS,
        account_id: str | None = None,
    ) -> Report:
        """Revenue, upstream cost and margin per group between two UTC days (both included)."""
        groups = tuple(dict.fromkeys(group_by))
        for name in groups:
            if name not in REPORT_GROUPS:
                raise invalid("group_by", f"unknown grouping '{name[:40]}'", list(REPORT_GROUPS))
        first, last = _days(start, end, today=self._today())
        window = {"start_ms": _ms(first), "end_ms": _ms(last + timedelta(days=1))}
        async with self.db.read(snapshot=True) as conn:
            rows = await report_store.margin(
                conn,
                group_by=groups,  # type: ignore[arg-type]  # checked against REPORT_GROUPS above
                account_id=account_id,
                **window,
            )
        out = [
            ReportRow(
                {n: _group(n, values[groups.index(n)]) if n in groups else None for n in REPORT_GROUPS},
                count,
                Margin.of(credits, ticks, credit_usd=self.credit_usd),
            )
            for values, count, credits, ticks in rows
        ]
        total = ReportRow(
            dict.fromkeys(REPORT_GROUPS),
            sum(r.tasks for r in out),
            Margin(
                sum(r.margin.revenue_credits for r in out),
                sum((r.margin.revenue_usd for r in out), Decimal(0)),
                sum((r.margin.upstream_cost_usd for r in out), Decimal(0)),
            ),
        )
        return Report(first, last, groups, out, total)

    def _today(self) -> date:
        return datetime.fromtimestamp(self.clock.now_ms() / 1000, tz=UTC).date()

    def task_margin(self, task: Task, charged: int) -> Margin:
        """A task's revenue, cost and margin, given the credits it took."""
        return Margin.of(charged, task.upstream_cost_ticks, credit_usd=self.credit_usd)

    async def tasks(self, *, account_id: str | None, cursor: str | None, limit: int) -> Page[Task]:
        """Tasks of every account (or one), newest first."""
        async with self.db.read() as conn:
            rows = await report_store.any_account_tasks(
                conn, account_id=account_id, before=read_cursor(cursor), limit=limit + 1
            )
        return page_of(rows, limit)

    async def task(self, task_id: str) -> tuple[Task, int]:
        """Any account's task and the credits it took so far (net)."""
        async with self.db.read(snapshot=True) as conn:
            task = await task_store.get_task(conn, task_id)
            if task is None:
                raise NotFound(f"Task {task_id} was not found.")
            charged = await report_store.task_charge(conn, task_id)
        return task, charged


def _days(start: str | None, end: str | None, *, today: date) -> tuple[date, date]:
    """The UTC days of a ``from``/``to`` pair (default: the last 30 days up to today)."""
    last = _day(end, "to") if end else today
    first = _day(start, "from") if start else last - timedelta(days=29)
    if first > last:
        raise invalid("from", "must not be after 'to'")
    if (last - first).days >= MAX_DAYS:
        raise invalid("to", f"the range may span at most {MAX_DAYS} days")
    return first, last


def _day(text: str, field: str) -> date:
    try:
        return date.fromisoformat(text) if len(text) == 10 else _bad(field)
    except ValueError:
        return _bad(field)


def _bad(field: str) -> date:
    raise invalid(field, "must be a day as YYYY-MM-DD")


def _ms(day: date) -> int:
    return int(datetime(day.year, day.month, day.day, tzinfo=UTC).timestamp() * 1000)


def _group(name: str, value: Any) -> str:
    if name == "day":
        return (date(1970, 1, 1) + timedelta(days=int(value))).isoformat()
    return str(value)


__all__ = ["LedgerPage", "Report", "ReportRow", "ReportService", "Usage", "UsageRow"]
