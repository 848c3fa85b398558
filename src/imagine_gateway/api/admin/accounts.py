"""/api/v1/admin: accounts, their keys, top-ups and adjustments."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse

from imagine_gateway.api.deps import Ctx, IsAdmin, read_json
from imagine_gateway.api.money_views import account_view, actor, fields_of, key_view, ledger_view, listing
from imagine_gateway.core.budgets import parse_limits
from imagine_gateway.core.errors import invalid
from imagine_gateway.services.admin import KeyChanges
from imagine_gateway.services.admin_credits import CreditChange

router = APIRouter(prefix="/api/v1/admin", tags=["admin"])

KEY_FIELDS = ("name", "scopes", "limits", "models", "expires_in_s")
PATCH_FIELDS = ("name", "scopes", "limits", "models")


@router.post("/accounts", status_code=201, summary="Create an account")
async def create_account(request: Request, ctx: Ctx, principal: IsAdmin) -> JSONResponse:
    body = fields_of(await read_json(request), ("name",))
    account = await ctx.admin.create_account(actor(request, principal), body.get("name"))  # type: ignore[arg-type]
    return JSONResponse(account_view(account), status_code=201)


@router.get("/accounts", summary="Accounts, newest first")
async def list_accounts(
    ctx: Ctx, principal: IsAdmin, cursor: str | None = None, limit: Annotated[int, Query(ge=1, le=100)] = 20
) -> dict[str, Any]:
    page = await ctx.admin.list_accounts(cursor=cursor, limit=limit)
    return listing([account_view(a) for a in page.items], next_cursor=page.next_cursor)


@router.get("/accounts/{account_id}", summary="One account with its balance")
async def get_account(account_id: str, ctx: Ctx, principal: IsAdmin) -> dict[str, Any]:
    return account_view(await ctx.admin.get_account(account_id))


@router.post("/accounts/{account_id}/disable", summary="Disable an account: its keys are refused")
async def disable_account(account_id: str, request: Request, ctx: Ctx, principal: IsAdmin) -> dict[str, Any]:
    return account_view(await ctx.admin.set_disabled(actor(request, principal), account_id, disabled=True))


@router.post("/accounts/{account_id}/enable", summary="Enable a disabled account again")
async def enable_account(account_id: str, request: Request, ctx: Ctx, principal: IsAdmin) -> dict[str, Any]:
    return account_view(await ctx.admin.set_disabled(actor(request, principal), account_id, disabled=False))


@router.post("/accounts/{account_id}/keys", status_code=201, summary="Make a key; its secret is shown once")
async def create_key(account_id: str, request: Request, ctx: Ctx, principal: IsAdmin) -> JSONResponse:
    body = fields_of(await read_json(request), KEY_FIELDS)
    expires = body.get("expires_in_s")
    if expires is not None and (isinstance(expires, bool) or not isinstance(expires, int | float)):
        raise invalid("expires_in_s", "must be a number of seconds or null")
    made = await ctx.admin.create_key(
        actor(request, principal),
        account_id,
        name=body.get("name", "key"),
        scopes=body.get("scopes"),
        limits=parse_limits(body.get("limits")),
        models=body.get("models"),
        expires_in_s=expires,
    )
    return JSONResponse(key_view(made.key, now_ms=ctx.clock.now_ms(), secret=made.secret), status_code=201)


@router.get("/accounts/{account_id}/keys", summary="The account's keys, oldest first")
async def list_keys(account_id: str, ctx: Ctx, principal: IsAdmin) -> dict[str, Any]:
    now = ctx.clock.now_ms()
    keys = await ctx.admin.list_keys(account_id)
    return listing([key_view(k, now_ms=now) for k in keys], next_cursor=None)


@router.patch("/keys/{key_id}", summary="Change a key's name, scopes, spend caps or model allowlist")
async def update_key(key_id: str, request: Request, ctx: Ctx, principal: IsAdmin) -> dict[str, Any]:
    body = fields_of(await read_json(request), PATCH_FIELDS)
    limits = None
    if "limits" in body:
        current = await ctx.admin.get_key(key_id)
        limits = parse_limits(body["limits"], base=current.limits)
    changes = KeyChanges(
        name=body.get("name"),
        scopes=body.get("scopes"),
        limits=limits,
        models=body.get("models"),
        clear_models="models" in body and body["models"] is None,
    )
    key = await ctx.admin.update_key(actor(request, principal), key_id, changes)
    return key_view(key, now_ms=ctx.clock.now_ms())


@router.post("/keys/{key_id}/revoke", summary="Revoke a key: it stops working at once")
async def revoke_key(key_id: str, request: Request, ctx: Ctx, principal: IsAdmin) -> dict[str, Any]:
    key = await ctx.admin.revoke_key(actor(request, principal), key_id)
    return key_view(key, now_ms=ctx.clock.now_ms())


@router.post("/keys/{key_id}/rotate", summary="A new secret for a key (shown once); the old one stops")
async def rotate_key(key_id: str, request: Request, ctx: Ctx, principal: IsAdmin) -> dict[str, Any]:
    made = await ctx.admin.rotate_key(actor(request, principal), key_id)
    return key_view(made.key, now_ms=ctx.clock.now_ms(), secret=made.secret)


@router.post("/accounts/{account_id}/topups", status_code=201, summary="Credit an account (retry-safe)")
async def topup(account_id: str, request: Request, ctx: Ctx, principal: IsAdmin) -> JSONResponse:
    body = fields_of(await read_json(request), ("credits", "reference", "note"))
    change = await ctx.credit_admin.topup(
        actor(request, principal),
        account_id,
        body.get("credits"),
        reference=body.get("reference"),
        note=body.get("note"),
        idempotency_key=_idempotency_key(request),
    )
    return _credit_answer(change, "topup")


@router.post("/accounts/{account_id}/adjustments", status_code=201, summary="Add or take away credits")
async def adjust(account_id: str, request: Request, ctx: Ctx, principal: IsAdmin) -> JSONResponse:
    body = fields_of(await read_json(request), ("credits", "reason"))
    change = await ctx.credit_admin.adjust(
        actor(request, principal),
        account_id,
        body.get("credits"),
        reason=body.get("reason"),
        idempotency_key=_idempotency_key(request),
    )
    return _credit_answer(change, "adjustment")


def _idempotency_key(request: Request) -> str:
    key = request.headers.get("idempotency-key")
    if key is None:
        raise invalid("Idempotency-Key", "is required: a payment's or event's id, so a retry credits once")
    return key


def _credit_answer(change: CreditChange, kind: str) -> JSONResponse:
    body = {"object": kind, "entry": ledger_view(change.entry), "account": account_view(change.account)}
    headers = {"Idempotent-Replayed": "true"} if change.replayed else {}
    return JSONResponse(body, status_code=201, headers=headers)
