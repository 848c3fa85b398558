"""/api/v1/admin: the audit log, every account's tasks with their money, and the margin report."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query

from imagine_gateway.api.deps import Ctx, IsAdmin
from imagine_gateway.api.money_views import listing, margin_view
from imagine_gateway.api.v1.views import task_view
from imagine_gateway.core.cursor import encode_cursor
from imagine_gateway.core.records import Task
from imagine_gateway.core.timefmt import iso_ms
from imagine_gateway.services.reports import REPORT_GROUPS, ReportRow

router = APIRouter(prefix="/api/v1/admin", tags=["admin"])

Limit = Annotated[int, Query(ge=1, le=100)]


@router.get("/audit", summary="Every admin action, newest first")
async def audit_log(
    ctx: Ctx,
    principal: IsAdmin,
    cursor: str | None = None,
    limit: Limit = 50,
    account_id: str | None = None,
    actor: str | None = None,
    action: str | None = None,
) -> dict[str, Any]:
    rows, after = await ctx.admin.audit_log(
        cursor=cursor, limit=limit, account_id=account_id, actor=actor, action=action
    )
    data = [
        {
            "id": r.id,
            "object": "audit_entry",
            "created_at": iso_ms(r.created_at),
            "actor": r.actor,
            "actor_account_id": r.actor_account_id,
            "action": r.action,
            "target": {"type": r.target_type, "id": r.target_id},
            "account_id": r.account_id,
            "details": r.details,
            "request_id": r.request_id,
        }
        for r in rows
    ]
    next_cursor = encode_cursor(rows[-1].created_at, str(after)) if after is not None else None
    return listing(data, next_cursor=next_cursor)


@router.get("/generations", summary="Tasks of every account (or one), newest first")
async def list_generations(
    ctx: Ctx, principal: IsAdmin, account_id: str | None = None, cursor: str | None = None, limit: Limit = 20
) -> dict[str, Any]:
    page = await ctx.reports.tasks(account_id=account_id, cursor=cursor, limit=limit)
    now = ctx.clock.now_ms()
    return listing([_admin_task(ctx, t, None, now) for t in page.items], next_cursor=page.next_cursor)


@router.get("/generations/{task_id}", summary="Any account's task, with its revenue, cost and margin")
async def get_generation(task_id: str, ctx: Ctx, principal: IsAdmin) -> dict[str, Any]:
    task, charged = await ctx.reports.task(task_id)
    return _admin_task(ctx, task, charged, ctx.clock.now_ms())


@router.get("/reports/margin", summary="Revenue, upstream cost and margin by day, model, provider, account")
async def margin_report(
    ctx: Ctx,
    principal: IsAdmin,
    start: Annotated[str | None, Query(alias="from")] = None,
    end: Annotated[str | None, Query(alias="to")] = None,
    group_by: str = ",".join(REPORT_GROUPS),
    account_id: str | None = None,
) -> dict[str, Any]:
    groups = [g.strip() for g in group_by.split(",") if g.strip()]
    report = await ctx.reports.margin(start=start, end=end, group_by=groups, account_id=account_id)
    return {
        "object": "report",
        "from": report.start.isoformat(),
        "to": report.end.isoformat(),
        "group_by": list(report.group_by),
        "credit_usd": str(ctx.settings.usd_per_credit),
        "data": [_row(r) for r in report.rows],
        "total": {k: v for k, v in _row(report.total).items() if k not in _GROUP_FIELDS.values()},
    }


_GROUP_FIELDS = {"day": "day", "model": "model", "provider": "provider", "account": "account_id"}


def _row(row: ReportRow) -> dict[str, Any]:
    return {
        **{field: row.groups[name] for name, field in _GROUP_FIELDS.items()},
        "tasks": row.tasks,
        **margin_view(row.margin),
    }


def _admin_task(ctx: Any, task: Task, charged: int | None, now_ms: int) -> dict[str, Any]:
    """The customer's view of a task, plus who made it, where it ran and what it earned.

    ``charged`` is what the task's ledger rows took; a list shows the settled amount
    (``final_credits``) instead of reading each task's rows.
    """
    taken = (
        charged if charged is not None else (task.final_credits if task.credits_state != "reserved" else 0)
    )
    margin = ctx.reports.task_margin(task, taken)
    return {
        **task_view(ctx.settings, task, now_ms=now_ms),
        "account_id": task.account_id,
        "api_key_id": task.api_key_id,
        "provider": task.provider,
        "upstream_id": task.upstream_id,
        "upstream_cost_ticks": task.upstream_cost_ticks,
        "credits_state": task.credits_state,
        "charged_credits": taken,
        **margin_view(margin, cost_known=task.upstream_cost_ticks is not None),
    }
