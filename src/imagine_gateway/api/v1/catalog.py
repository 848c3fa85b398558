"""GET /api/v1/models (public) and GET /api/v1/credits."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from imagine_gateway.api.deps import CanReadCredits, Ctx
from imagine_gateway.api.v1.views import model_view
from imagine_gateway.core.errors import NotFound

router = APIRouter(prefix="/api/v1")


@router.get("/models", tags=["models"], summary="The public model catalog (no key needed)")
async def list_models(ctx: Ctx) -> dict[str, Any]:
    return {"object": "list", "data": [model_view(m) for m in ctx.catalog]}


@router.get("/models/{model_id}", tags=["models"], summary="One model's contract")
async def get_model(model_id: str, ctx: Ctx) -> dict[str, Any]:
    model = ctx.catalog.get(model_id)
    if model is None:
        raise NotFound(f"Model {model_id} does not exist.")
    return model_view(model)


@router.get("/credits", tags=["credits"], summary="The account's credit balance")
async def get_credits(ctx: Ctx, principal: CanReadCredits) -> dict[str, Any]:
    credits = await ctx.accounts.credits(principal)
    return {
        "object": "credits",
        "account_id": credits.account_id,
        "balance": credits.balance,
        "reserved": credits.reserved,
        "available": credits.balance,
    }
