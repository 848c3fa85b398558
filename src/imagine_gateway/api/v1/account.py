"""A customer's own money and keys: /api/v1/credits/ledger, /api/v1/usage and /api/v1/keys.

Every answer is of the calling key's account only; another account's rows are never read.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse

from imagine_gateway.api.deps import CanManageKeys, CanReadCredits, Ctx, read_json
from imagine_gateway.api.money_views import actor, fields_of, key_view, ledger_view, listing
from imagine_gateway.core.budgets import parse_limits

router = APIRouter(prefix="/api/v1")

KEY_FIELDS = ("name", "scopes", "limits", "models")


@router.get("/credits/ledger", tags=["credits"], summary="The account's ledger, newest first")
async def get_ledger(
    ctx: Ctx,
    principal: CanReadCredits,
    cursor: str | None = None,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
) -> dict[str, Any]:
    page = await ctx.reports.ledger(principal, cursor=cursor, limit=limit)
    return listing([ledger_view(e) for e in page.items], next_cursor=page.next_cursor)


@router.get("/usage", tags=["credits"], summary="Credits spent per day, model or key")
async def get_usage(
    ctx: Ctx,
    principal: CanReadCredits,
    start: Annotated[str | None, Query(alias="from")] = None,
    end: Annotated[str | None, Query(alias="to")] = None,
    group_by: str = "day",
) -> dict[str, Any]:
    usage = await ctx.reports.usage(principal, start=start, end=end, group_by=group_by)
    total = usage.total
    return {
        "object": "usage",
        "from": usage.start.isoformat(),
        "to": usage.end.isoformat(),
        "group_by": usage.group_by,
        "data": [{"group": r.group, "tasks": r.tasks, "credits": r.credits} for r in usage.rows],
        "total": {"tasks": total.tasks, "credits": total.credits},
    }


@router.get("/keys", tags=["keys"], summary="The account's API keys (never their secrets)")
async def list_keys(ctx: Ctx, principal: CanManageKeys) -> dict[str, Any]:
    keys = await ctx.admin.list_keys(principal.account_id)
    now = ctx.clock.now_ms()
    return listing([key_view(k, now_ms=now) for k in keys], next_cursor=None)


@router.post("/keys", tags=["keys"], status_code=201, summary="Make a key; its secret is shown once")
async def create_key(request: Request, ctx: Ctx, principal: CanManageKeys) -> JSONResponse:
    body = fields_of(await read_json(request), KEY_FIELDS)
    made = await ctx.admin.create_key(
        actor(request, principal),
        principal.account_id,
        name=body.get("name", "key"),
        scopes=body.get("scopes"),
        limits=parse_limits(body.get("limits")),
        models=body.get("models"),
    )
    return JSONResponse(key_view(made.key, now_ms=ctx.clock.now_ms(), secret=made.secret), status_code=201)


@router.post("/keys/{key_id}/revoke", tags=["keys"], summary="Revoke one of the account's keys")
async def revoke_key(key_id: str, request: Request, ctx: Ctx, principal: CanManageKeys) -> dict[str, Any]:
    key = await ctx.admin.revoke_key(actor(request, principal), key_id)
    return key_view(key, now_ms=ctx.clock.now_ms())
