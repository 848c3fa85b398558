"""The grokimagineapi.com dialect.

    POST /v1/generate {mode, prompt, images?, ratio} -> {"code":200,"message":"success","data":{"task_id"}}
    GET  /v1/status?task_id=...                     -> {"code":200,"message":"success","data":{...}}
    errors -> {"code":400,"message":"Invalid request: ...","error":"INVALID_REQUEST"} (HTTP status = code)

Every response carries ``X-RateLimit-Remaining`` and ``X-RateLimit-Reset``. A generation is a
``grok-imagine-video`` task of ``GENERATION_DURATION_S`` seconds at the catalog's default resolution;
it costs what the catalog says for it (the seed's flat 40 credits is that site's price list).
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse
from starlette.responses import Response

from imagine_gateway.api.auth import context
from imagine_gateway.api.deps import CanCreate, CanRead, Ctx, read_json
from imagine_gateway.api.dialects.common import (
    build_request,
    choice,
    create_task,
    error_message,
    find_model,
    image_reference,
    iso_s,
    json_object,
    read_task,
    required_text,
    result_media,
)
from imagine_gateway.catalog.loader import Catalog
from imagine_gateway.catalog.validation import GenerationRequest
from imagine_gateway.core.errors import GatewayError, invalid
from imagine_gateway.core.records import Task
from imagine_gateway.core.states import TaskState

DIALECT = "grokimagineapi"
PATHS = ("/v1/generate", "/v1/status")
MODEL = "grok-imagine-video"
GENERATION_DURATION_S = 6
MODES = ("fun", "normal", "spicy")
RATIOS = ("2:3", "3:2", "1:1")

_WORDS = {
    TaskState.QUEUED: "pending",
    TaskState.SUBMITTING: "processing",
    TaskState.PROCESSING: "processing",
    TaskState.COLLECTING: "processing",
    TaskState.SUCCEEDED: "completed",
    TaskState.FAILED: "failed",
    TaskState.CANCELED: "failed",
}
_ERROR_NAMES = {
    400: "INVALID_REQUEST",
    401: "UNAUTHORIZED",
    402: "INSUFFICIENT_CREDITS",
    403: "FORBIDDEN",
    404: "NOT_FOUND",
    405: "METHOD_NOT_ALLOWED",
    409: "CONFLICT",
    413: "PAYLOAD_TOO_LARGE",
    415: "UNSUPPORTED_MEDIA_TYPE",
    429: "RATE_LIMIT_EXCEEDED",
    503: "SERVICE_UNAVAILABLE",
}


async def rate_limit_headers(request: Request) -> None:
    """Before auth: the headers for a request no key is counted for (auth replaces them with the key's)."""
    limit = context(request).limiter.default
    request.state.response_headers.update(
        {"X-RateLimit-Remaining": str(limit.amount), "X-RateLimit-Reset": "0"}
    )


router = APIRouter(tags=["grokimagineapi dialect"], dependencies=[Depends(rate_limit_headers)])


def serves(request: Request) -> bool:
    return request.url.path in PATHS


def render_error(exc: GatewayError, request_id: str) -> Response:
    """``{"code": <http status>, "message": ..., "error": "INVALID_REQUEST"}`` as the seed shows."""
    message = error_message(exc)
    if exc.status == 400:
        message = f"Invalid request: {message}"
    name = _ERROR_NAMES.get(exc.status, "INTERNAL_ERROR")
    return JSONResponse(
        {"code": exc.status, "message": message, "error": name, "request_id": request_id},
        status_code=exc.status,
    )


def generate_request(catalog: Catalog, raw: Any) -> GenerationRequest:
    """Check a ``/v1/generate`` body against grokimagineapi.com's contract."""
    body = json_object(raw)
    model = find_model(catalog, MODEL, output="video")
    if body.get("prompt") is None:
        raise invalid("prompt", "is required", message="The prompt parameter is required")
    prompt = required_text(body, "prompt", allowed={"max_length": model.max_prompt_length})
    mode = choice(body, "mode", MODES, default=_default(model.param("mode")))
    ratio = choice(body, "ratio", RATIOS, default=_default(model.param("aspect_ratio")))
    images = body.get("images")
    if isinstance(images, str):
        images = [images]
    if images is not None and (
        not isinstance(images, list) or not all(isinstance(u, str) and u for u in images)
    ):
        raise invalid("images", "must be an array of image URLs")
    references = tuple(image_reference(url) for url in images or ())
    params = {"mode": mode, "aspect_ratio": ratio, "duration": GENERATION_DURATION_S}
    return build_request(model, prompt, params, references=references, reference_field="images")


def _default(spec: Any) -> str:
    return str(spec.default) if spec is not None and spec.default is not None else ""


def status_data(task: Task, urls: list[str]) -> dict[str, Any]:
    """The seed's ``data`` object for one task."""
    state = task.task_state
    consumed = {TaskState.SUCCEEDED: task.final_credits, TaskState.FAILED: 0, TaskState.CANCELED: 0}
    request: dict[str, Any] = {
        "mode": task.params.get("mode"),
        "prompt": task.prompt,
        "ratio": task.params.get("aspect_ratio"),
    }
    references = task.params.get("referenceMediaItems")
    if references:
        request["images"] = [item["url"] for item in references]
    data: dict[str, Any] = {
        "consumed_credits": consumed.get(state, task.reserved_credits),
        "created_at": iso_s(task.created_at),
        "status": _WORDS[state],
        "task_id": task.id,
        "request": request,
        "response": urls,
    }
    if task.error_code is not None:
        data["error"] = {"code": task.error_code, "message": task.error_message or ""}
    return data


def success(data: dict[str, Any]) -> dict[str, Any]:
    return {"code": 200, "message": "success", "data": data}


@router.post("/v1/generate", summary="Create a video (grokimagineapi shape)")
async def generate(request: Request, ctx: Ctx, principal: CanCreate) -> dict[str, Any]:
    gen = generate_request(ctx.catalog, await read_json(request))
    task = await create_task(
        ctx, principal, gen, dialect=DIALECT, idempotency_key=request.headers.get("idempotency-key")
    )
    return success({"task_id": task.id})


@router.get("/v1/status", summary="Task status (grokimagineapi shape)")
async def status(ctx: Ctx, principal: CanRead, task_id: str | None = None) -> dict[str, Any]:
    if not task_id:
        raise invalid("task_id", "is required", message="The task_id parameter is required")
    task = await read_task(ctx, principal, task_id)
    media = result_media(ctx, task) if task.task_state is TaskState.SUCCEEDED else None
    return success(status_data(task, [m["url"] for m in media or ()]))
