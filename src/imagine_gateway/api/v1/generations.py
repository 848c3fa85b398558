"""POST/GET /api/v1/generations, GET /api/v1/generations/{id}, cancel, and the event stream."""

from __future__ import annotations

import contextlib
import json
from collections.abc import AsyncIterator
from typing import Annotated, Any

from fastapi import APIRouter, Header, Query, Request
from fastapi.responses import Response, StreamingResponse

from imagine_gateway.api.context import AppContext
from imagine_gateway.api.deps import CanCreate, CanRead, Ctx, read_json
from imagine_gateway.api.json_body import json_bytes
from imagine_gateway.api.v1.views import task_view
from imagine_gateway.catalog.prices import breakdown
from imagine_gateway.catalog.validation import validate_generation
from imagine_gateway.core.states import PUBLIC_STATUSES
from imagine_gateway.services.principal import Principal

router = APIRouter(prefix="/api/v1", tags=["generations"])

CREATE_BODY_REF = {"$ref": "#/components/schemas/GenerationCreate"}
KEEP_ALIVE_S = 15.0  # an event stream with no news sends a comment line this often


@router.post(
    "/generations",
    status_code=202,
    summary="Create a generation task",
    openapi_extra={
        "requestBody": {"required": True, "content": {"application/json": {"schema": CREATE_BODY_REF}}}
    },
    responses={202: {"description": "The task, queued"}},
)
async def create_generation(
    request: Request,
    ctx: Ctx,
    principal: CanCreate,
    idempotency_key: Annotated[str | None, Header(alias="Idempotency-Key")] = None,
) -> Response:
    body, headers = await create_answer(ctx, principal, await read_json(request), idempotency_key)
    return Response(body, status_code=202, headers=headers, media_type="application/json")


async def create_answer(
    ctx: AppContext, principal: Principal, body: Any, idempotency_key: str | None
) -> tuple[bytes, dict[str, str]]:
    """What a create answers with its 202, here and on the edge's hot route: the task's JSON, and
    ``Idempotent-Replayed`` when the request carried an ``Idempotency-Key``."""
    gen = validate_generation(ctx.catalog, body)
    created = await ctx.generations.create(principal, gen, idempotency_key=idempotency_key)
    if ctx.worker is not None and not created.replayed:
        ctx.worker.wake_for_submissions()
    headers = {}
    if idempotency_key is not None:
        headers["Idempotent-Replayed"] = "true" if created.replayed else "false"
    return json_bytes(task_view(ctx.settings, created.task, now_ms=ctx.clock.now_ms())), headers


@router.post(
    "/generations/price",
    summary="Preview what a create would reserve (nothing is created, no credits move)",
    openapi_extra={
        "requestBody": {"required": True, "content": {"application/json": {"schema": CREATE_BODY_REF}}}
    },
    responses={200: {"description": "The price a create of this body reserves, line by line"}},
)
async def price_generation(request: Request, ctx: Ctx, principal: CanCreate) -> dict[str, Any]:
    body = await read_json(request)
    gen = validate_generation(ctx.catalog, body)
    quote = await ctx.generations.price(principal, gen)
    return {
        "object": "price",
        "model": gen.model.id,
        "credits": quote.credits,
        "breakdown": breakdown(quote),
        "price": gen.model.price_rule.as_data(),
    }


@router.get("/generations", summary="List generation tasks, newest first", response_model=dict[str, Any])
async def list_generations(
    ctx: Ctx,
    principal: CanRead,
    status: Annotated[str | None, Query(description=f"one of {', '.join(PUBLIC_STATUSES)}")] = None,
    model: str | None = None,
    cursor: str | None = None,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
) -> Response:
    body = await list_answer(ctx, principal, status=status, model=model, cursor=cursor, limit=limit)
    return Response(body, media_type="application/json")


async def list_answer(
    ctx: AppContext,
    principal: Principal,
    *,
    status: str | None = None,
    model: str | None = None,
    cursor: str | None = None,
    limit: int = 20,
) -> bytes:
    """A page of the account's tasks, newest first, as JSON (here and on the edge's hot route)."""
    page = await ctx.generations.list(principal, status=status, model=model, cursor=cursor, limit=limit)
    now = ctx.clock.now_ms()
    return json_bytes(
        {
            "object": "list",
            "data": [task_view(ctx.settings, t, now_ms=now) for t in page.items],
            "has_more": page.next_cursor is not None,
            "next_cursor": page.next_cursor,
        }
    )


@router.get("/generations/{task_id}", summary="Retrieve a generation task", response_model=dict[str, Any])
async def get_generation(task_id: str, ctx: Ctx, principal: CanRead) -> Response:
    return Response(await task_answer(ctx, principal, task_id), media_type="application/json")


async def task_answer(ctx: AppContext, principal: Principal, task_id: str) -> bytes:
    """The task's JSON (here and on the edge's hot route): plain JSON values already, so encoded
    straight to bytes, without FastAPI's validation and encoding of a returned dict."""
    task = await ctx.generations.get(principal, task_id)
    return json_bytes(task_view(ctx.settings, task, now_ms=ctx.clock.now_ms()))


@router.post("/generations/{task_id}/cancel", summary="Cancel a queued or processing task")
async def cancel_generation(task_id: str, ctx: Ctx, principal: CanCreate) -> dict[str, Any]:
    task = await ctx.generations.cancel(principal, task_id)
    return task_view(ctx.settings, task, now_ms=ctx.clock.now_ms())


def stopping_event(view: dict[str, Any]) -> bytes:
    """The last event of a stream the server ends because it shuts down (``retry``: reconnect in 1 s)."""
    data = {
        "id": view["id"],
        "status": view["status"],
        "reason": "The server is shutting down; reconnect to go on following this task.",
    }
    return f"retry: 1000\nevent: reconnect\ndata: {json.dumps(data)}\n\n".encode()


@router.get("/generations/{task_id}/events", summary="Server-sent events for one task until it ends")
async def generation_events(task_id: str, ctx: Ctx, principal: CanRead) -> StreamingResponse:
    await ctx.generations.get(principal, task_id)  # not_found before the stream starts

    async def stream() -> AsyncIterator[bytes]:
        last = None
        watch = ctx.generations.watch(principal, task_id, poll_s=KEEP_ALIVE_S)
        async with contextlib.aclosing(watch) as snapshots:
            async for snapshot in snapshots:
                if snapshot.quiet:
                    yield b": keep-alive\n\n"  # through proxies that close idle connections
                view = task_view(ctx.settings, snapshot.task, now_ms=ctx.clock.now_ms())
                shown = (view["status"], view["progress"])
                if shown != last:
                    last = shown
                    yield f"event: generation\ndata: {json.dumps(view)}\n\n".encode()
                if snapshot.stopping:
                    # The server is stopping: say so, so the client reconnects (to another process).
                    yield stopping_event(view)

    return StreamingResponse(
        stream(),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"},
    )
