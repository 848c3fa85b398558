"""The xAI dialect (xAI's REST shape, which the xAI-compatible relays speak too).

    POST /v1/videos/generations        -> {"request_id"}           (poll: GET /v1/videos/{id}, in videos.py)
    POST /v1/videos/edits | extensions -> {"request_id"}           (grok-imagine-video only, as at xAI)
    POST /v1/images/generations        -> {"created", "data": [...]}, waiting for the task (or deferred)
    POST /v1/images/edits              -> the same, from 1 to 3 (1.0) or 5 (2.0) source images
    GET  /v1/images/{request_id}       -> 202 pending | 200 done/failed/expired

Video contract (xAI's, per model, from the catalog's modes): ``model`` required (xAI's ids, their
aliases, or the catalog's); ``prompt`` required unless ``image``, ``reference_images``,
``last_frame`` or ``keyframes`` is given; ``duration`` 1-15 (alias ``seconds``, numeric strings
accepted, default 8; 10 at most with references on the classic model), ``aspect_ratio`` (default
16:9), ``resolution`` (default 480p; 1080p on 1.5 and lite, not for reference-to-video),
``image`` (alias ``input_reference``), ``reference_images`` (1-7), ``last_frame``, ``keyframes``
(1-4), ``reference_audios`` (1-3), ``generate_audio``. Seed 003 also lists duration, resolution
and aspect_ratio as required; xAI's defaults are applied when a client omits them, so every
seed-003 request is accepted and so are xAI SDK requests that rely on the defaults. Errors carry
xAI's codes (``invalid_argument``, ``failed_precondition``; xai_contract.py).
"""

from __future__ import annotations

import asyncio
import base64
from typing import Annotated, Any

from fastapi import APIRouter, Header, Request
from fastapi.responses import JSONResponse
from starlette.responses import Response

from imagine_gateway.api.context import AppContext
from imagine_gateway.api.deps import CanCreate, CanRead, Ctx, read_json
from imagine_gateway.api.dialects.common import (
    GenerationFailed,
    build_request,
    choice,
    create_task,
    create_tasks,
    image_url,
    json_object,
    one_of_aliases,
    optional_text,
    read_task,
    required_text,
    result_expired,
    result_media,
    task_error,
    unix_s,
    wait_until_ended,
    whole_number,
    whole_seconds,
)
from imagine_gateway.api.dialects.xai_contract import (
    DEFAULT_ASPECT_RATIO,
    DEFAULT_DURATION_S,
    DEFAULT_RESOLUTION,
    EXTENSION_DEFAULT_S,
    ImageCall,
    argument,
    audio_list,
    boolean,
    check_modes,
    find_xai_model,
    image_call,
    keyframes,
    media_list,
    precondition,
    reference,
    refuse_unhonoured,
    xai_codes,
)
from imagine_gateway.catalog.loader import Catalog
from imagine_gateway.catalog.validation import GenerationRequest, ReferenceItem
from imagine_gateway.core.records import Task
from imagine_gateway.core.states import TaskState
from imagine_gateway.services.principal import Principal

router = APIRouter(tags=["xAI dialect"])

DIALECT = "xai"
VIDEO_ASPECT_RATIOS = ("1:1", "16:9", "9:16", "4:3", "3:4", "3:2", "2:3")
VIDEO_RESOLUTIONS = ("480p", "720p", "1080p")
VIDEO_DURATION_S = (1, 15)
EXTENSION_DURATION_S = (2, 10)
REFERENCE_IMAGES_MAX = 7

IdempotencyKey = Annotated[str | None, Header(alias="Idempotency-Key")]


# --- videos ------------------------------------------------------------------------------------


def video_request(catalog: Catalog, raw: Any) -> GenerationRequest:
    """Check a ``POST /v1/videos/generations`` body against xAI's rules for its model."""
    body = json_object(raw)
    refuse_unhonoured(body)
    model, pinned = find_xai_model(catalog, required_text(body, "model"), output="video")
    prompt = optional_text(body, "prompt") or ""
    if len(prompt) > model.max_prompt_length:
        raise argument("prompt", f"is {len(prompt)} characters; the limit is {model.max_prompt_length}")
    low, high = VIDEO_DURATION_S
    duration_field = one_of_aliases(body, "duration", "seconds") or "duration"
    duration = whole_number(body, duration_field, low=low, high=high, default=DEFAULT_DURATION_S)
    aspect = choice(body, "aspect_ratio", VIDEO_ASPECT_RATIOS, default=DEFAULT_ASPECT_RATIO)
    resolution = choice(body, "resolution", VIDEO_RESOLUTIONS, default=DEFAULT_RESOLUTION)
    image_field = one_of_aliases(body, "image", "input_reference")
    refs: list[ReferenceItem] = []
    if image_field is not None:
        refs.append(reference(image_url(body[image_field], image_field), "image", "first_frame", model))
    if body.get("reference_images") is not None:
        for url in media_list(body, "reference_images", limit=REFERENCE_IMAGES_MAX):
            refs.append(reference(url, "image", "reference", model))
    if body.get("last_frame") is not None:
        refs.append(reference(image_url(body["last_frame"], "last_frame"), "image", "last_frame", model))
    if body.get("keyframes") is not None:
        for url, stamp in keyframes(body):
            refs.append(reference(url, "image", "keyframe", model, timestamp_s=stamp))
    if body.get("reference_audios") is not None:
        for url in audio_list(body):
            refs.append(reference(url, "audio", "audio", model))
    params: dict[str, Any] = {"duration": duration, "aspect_ratio": aspect, "resolution": resolution}
    audio = boolean(body, "generate_audio")
    if audio is not None:
        params["generate_audio"] = audio
    params.update(pinned)
    names = {"duration": duration_field}
    check_modes(model, params, tuple(refs), prompt=prompt, names=names)
    return build_request(
        model, prompt, params, references=tuple(refs), reference_field=image_field or "image"
    )


def video_job_request(catalog: Catalog, raw: Any, *, mode: str) -> GenerationRequest:
    """``/v1/videos/edits`` (mode ``video-edit``) or ``/extensions`` (``video-extension``) bodies."""
    body = json_object(raw)
    refuse_unhonoured(body)
    models = [m for m in catalog if m.output == "video" and m.mode(mode) is not None]
    model_id = optional_text(body, "model")
    if model_id is not None:
        model, _ = find_xai_model(catalog, model_id, output="video")
        if model.id not in {m.id for m in models}:
            raise precondition("model", f"{model.id} does not support {mode}", [m.id for m in models])
    elif models:
        model = models[0].for_engine()
    else:
        raise precondition("model", f"this gateway's catalog has no model for {mode}")
    prompt = required_text(body, "prompt", allowed={"max_length": model.max_prompt_length})
    extension = mode == "video-extension"
    for name in ("resolution", "aspect_ratio", "seconds", *(() if extension else ("duration",))):
        if body.get(name) is not None:
            raise argument(name, f"is not a field of video {'extensions' if extension else 'edits'}")
    if body.get("video") is None:
        raise argument("video", "is required", ["url"])
    video = reference(image_url(body["video"], "video"), "video", "extend" if extension else "edit", model)
    params: dict[str, Any] = {}
    if extension:
        low, high = EXTENSION_DURATION_S
        params["duration"] = whole_number(body, "duration", low=low, high=high, default=EXTENSION_DEFAULT_S)
    check_modes(model, params, (video,), prompt=prompt, names={})
    return build_request(model, prompt, params, references=(video,), reference_field="video")


@router.post("/v1/videos/generations", summary="Create a video (xAI shape)")
async def create_video(
    request: Request, ctx: Ctx, principal: CanCreate, idempotency_key: IdempotencyKey = None
) -> JSONResponse:
    with xai_codes():
        gen = video_request(ctx.catalog, await read_json(request))
        task = await create_task(ctx, principal, gen, dialect=DIALECT, idempotency_key=idempotency_key)
    return JSONResponse({"request_id": task.id})


@router.post("/v1/videos/edits", summary="Edit a video (xAI shape)")
async def edit_video(
    request: Request, ctx: Ctx, principal: CanCreate, idempotency_key: IdempotencyKey = None
) -> JSONResponse:
    with xai_codes():
        gen = video_job_request(ctx.catalog, await read_json(request), mode="video-edit")
        task = await create_task(ctx, principal, gen, dialect=DIALECT, idempotency_key=idempotency_key)
    return JSONResponse({"request_id": task.id})


@router.post("/v1/videos/extensions", summary="Extend a video (xAI shape)")
async def extend_video(
    request: Request, ctx: Ctx, principal: CanCreate, idempotency_key: IdempotencyKey = None
) -> JSONResponse:
    with xai_codes():
        gen = video_job_request(ctx.catalog, await read_json(request), mode="video-extension")
        task = await create_task(ctx, principal, gen, dialect=DIALECT, idempotency_key=idempotency_key)
    return JSONResponse({"request_id": task.id})


def video_poll_response(ctx: AppContext, task: Task) -> Response:
    """``GET /v1/videos/{request_id}`` for a task created in this dialect: 202 while running."""
    state = task.task_state
    if not state.is_terminal:
        return JSONResponse({"status": "pending", "progress": task.progress}, status_code=202)
    if state is not TaskState.SUCCEEDED:
        return JSONResponse({"status": "failed", "error": task_error(task)})
    media = result_media(ctx, task)
    if media is None:
        return JSONResponse({"status": "expired"})
    video = media[0]
    return JSONResponse(
        {
            "status": "done",
            "video": {
                "url": video["url"],
                "duration": whole_seconds(video["duration_seconds"]),
                "respect_moderation": True,
            },
            "model": task.model,
            "progress": 100,
        }
    )


# --- images ------------------------------------------------------------------------------------


async def run_images(
    ctx: AppContext, principal: Principal, call: ImageCall, idempotency_key: str | None
) -> Response:
    """Create the task(s); answer ``{request_id}`` when deferred, else wait and answer the images."""
    # All or nothing: n tasks of one request are created in one transaction (K#i keys for several).
    with xai_codes():
        tasks = await create_tasks(
            ctx, principal, call.request, count=call.tasks, dialect=DIALECT, idempotency_key=idempotency_key
        )
    if call.deferred:
        return JSONResponse({"request_id": tasks[0].id})
    deadline = asyncio.get_running_loop().time() + ctx.settings.sync_wait_timeout_s
    data = []
    for task in tasks:
        ended = await wait_until_ended(ctx, principal, task.id, deadline=deadline)
        if ended.task_state is not TaskState.SUCCEEDED:
            error = task_error(ended) or {"code": "generation_failed", "message": ""}
            raise GenerationFailed(
                f"The image generation {ended.id} failed: {error['code']}: {error['message']}"
            )
        data += await _image_items(ctx, ended, call.response_format)
    return JSONResponse({"created": unix_s(tasks[0].created_at), "data": data})


async def _image_items(ctx: AppContext, task: Task, response_format: str) -> list[dict[str, Any]]:
    """Every image of the task (``n`` of them when they were made in one call)."""
    media = result_media(ctx, task) or []
    if not media:
        raise GenerationFailed(f"The image of {task.id} is no longer stored.")
    if response_format == "url":
        return [{"url": item["url"], "mime_type": item["mime_type"]} for item in media]
    return [
        {
            "b64_json": base64.b64encode(await ctx.results.read_asset(task, index)).decode(),
            "mime_type": item["mime_type"],
        }
        for index, item in enumerate(media)
    ]


@router.post("/v1/images/generations", summary="Generate images (xAI / OpenAI images shape)")
async def generate_images(
    request: Request, ctx: Ctx, principal: CanCreate, idempotency_key: IdempotencyKey = None
) -> Response:
    with xai_codes():
        call = image_call(ctx.catalog, await read_json(request), edit=False)
    return await run_images(ctx, principal, call, idempotency_key)


@router.post("/v1/images/edits", summary="Edit images (xAI shape, JSON)")
async def edit_images(
    request: Request, ctx: Ctx, principal: CanCreate, idempotency_key: IdempotencyKey = None
) -> Response:
    with xai_codes():
        call = image_call(ctx.catalog, await read_json(request), edit=True)
    return await run_images(ctx, principal, call, idempotency_key)


@router.get("/v1/images/{request_id}", summary="A deferred image request (xAI shape)")
async def get_image(request_id: str, ctx: Ctx, principal: CanRead) -> Response:
    task = await read_task(ctx, principal, request_id, output="image")
    state = task.task_state
    if not state.is_terminal:
        return JSONResponse({"request_id": task.id, "status": "pending"}, status_code=202)
    if state is not TaskState.SUCCEEDED:
        return JSONResponse({"request_id": task.id, "status": "failed", "error": task_error(task)})
    if result_expired(ctx, task):
        return JSONResponse({"request_id": task.id, "status": "expired"})
    return JSONResponse(
        {"request_id": task.id, "status": "done", "data": await _image_items(ctx, task, "url")}
    )
