"""GET /api/v1/models (public) and GET /api/v1/credits."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response

from imagine_gateway.api.context import AppContext
from imagine_gateway.api.deps import CanReadCredits, Ctx
from imagine_gateway.api.json_body import json_bytes
from imagine_gateway.api.v1.views import model_view
from imagine_gateway.core.errors import NotFound

router = APIRouter(prefix="/api/v1")


def document_bytes(ctx: AppContext, name: str, render: Callable[[], Any]) -> bytes:
    """The JSON of ``render()``, made once per process: the catalog does not change while it runs."""
    body = ctx.documents.get(name)
    if body is None:
        body = ctx.documents[name] = json_bytes(render())
    return body


def document(ctx: AppContext, name: str, render: Callable[[], Any]) -> Response:
    return Response(document_bytes(ctx, name, render), media_type="application/json")


def models_document(ctx: AppContext) -> bytes:
    """``GET /api/v1/models``: every model of the catalog (here and on the edge's hot route)."""
    return document_bytes(
        ctx, "models", lambda: {"object": "list", "data": [model_view(m) for m in ctx.catalog]}
    )


@router.get(
    "/models",
    tags=["models"],
    summary="The public model catalog (no key needed)",
    response_model=dict[str, Any],
)
async def list_models(request: Request) -> Response:
    ctx: AppContext = request.app.state.ctx
    return Response(models_document(ctx), media_type="application/json")


@router.get(
    "/models/{model_id}", tags=["models"], summary="One model's contract", response_model=dict[str, Any]
)
async def get_model(model_id: str, ctx: Ctx) -> Response:
    model = ctx.catalog.get(model_id)
    if model is None:
        raise NotFound(f"Model {model_id} does not exist.")
    return document(ctx, f"model:{model.id}", lambda: model_view(model))


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
