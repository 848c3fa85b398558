"""The xAI dialect (reference/xai-api.md; seed 003 speaks the same shape).

    POST /v1/videos/generations        -> {"request_id"}           (poll: GET /v1/videos/{id}, in videos.py)
    POST /v1/videos/edits | extensions -> {"request_id"}           (when the catalog has a model for them)
    POST /v1/images/generations        -> {"created", "data": [...]}, waiting for the task (or deferred)
    POST /v1/images/edits              -> the same, from reference image(s)
    GET  /v1/images/{request_id}       -> 202 pending | 200 done/failed/expired

Video contract: ``model`` and ``prompt`` required (seed 003); ``duration`` 1-15 (alias ``seconds``,
numeric strings accepted, default 8), ``aspect_ratio`` (default 16:9), ``resolution`` (default 480p),
``image`` (alias ``input_reference``) xor ``reference_images``. Seed 003 also lists duration,
resolution and aspect_ratio as required; xAI's own defaults are applied when a client omits them, so
every seed-003 request is accepted and so are xAI SDK requests that rely on the defaults.
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
    Body,
    GenerationFailed,
    build_request,
    choice,
    create_task,
    create_tasks,
    find_model,
    image_reference,
    image_url,
    json_object,
    one_of_aliases,
    optional_text,
    read_task,
    refuse_fields,
    required_text,
    result_expired,
    result_media,
    task_error,
    unix_s,
    wait_until_ended,
    whole_number,
    whole_seconds,
)
from imagine_gateway.catalog.contract import ModelContract
from imagine_gateway.catalog.loader import Catalog
from imagine_gateway.catalog.validation import GenerationRequest, ReferenceItem
from imagine_gateway.core.errors import invalid
from imagine_gateway.core.records import Task
from imagine_gateway.core.states import TaskState
from imagine_gateway.services.principal import Principal

router = APIRouter(tags=["xAI dialect"])

DIALECT = "xai"
VIDEO_ASPECT_RATIOS = ("1:1", "16:9", "9:16", "4:3", "3:4", "3:2", "2:3")
VIDEO_RESOLUTIONS = ("480p", "720p", "1080p")
VIDEO_DURATION_S = (1, 15)
DEFAULT_DURATION_S = 8
DEFAULT_ASPECT_RATIO = "16:9"
DEFAULT_RESOLUTION = "480p"
REFERENCE_IMAGES_MAX = 7
REFERENCE_DURATION_MAX_S = 10
EXTENSION_DURATION_S = (2, 10)
IMAGE_ASPECT_RATIOS = (
    "1:1",
    "3:4",
    "4:3",
    "9:16",
    "16:9",
    "2:3",
    "3:2",
    "9:19.5",
    "19.5:9",
    "9:20",
    "20:9",
    "1:2",
    "2:1",
    "21:9",
    "5:2",
    "auto",
)
IMAGE_DEFAULT_MODEL = "grok-imagine-image"
IMAGE_EDIT_SOURCES_MAX = 3
IMAGES_MAX = 10
# Fields of xAI's contract whose effect this gateway cannot produce: refused rather than dropped.
UNSUPPORTED_VIDEO_FIELDS = ("output", "keyframes", "reference_audios", "last_frame", "video")
UNSUPPORTED_IMAGE_FIELDS = ("output",)

IdempotencyKey = Annotated[str | None, Header(alias="Idempotency-Key")]


# --- videos ------------------------------------------------------------------------------------


def video_request(catalog: Catalog, raw: Any) -> GenerationRequest:
    """Check a ``POST /v1/videos/generations`` body; raise ``validation_failed`` naming the field."""
    body = json_object(raw)
    refuse_fields(body, UNSUPPORTED_VIDEO_FIELDS)
    model = find_model(catalog, required_text(body, "model"), output="video")
    prompt = required_text(body, "prompt", allowed={"max_length": model.max_prompt_length})
    low, high = VIDEO_DURATION_S
    duration_field = one_of_aliases(body, "duration", "seconds") or "duration"
    duration = whole_number(body, duration_field, low=low, high=high, default=DEFAULT_DURATION_S)
    aspect = choice(body, "aspect_ratio", VIDEO_ASPECT_RATIOS, default=DEFAULT_ASPECT_RATIO)
    resolution = choice(body, "resolution", VIDEO_RESOLUTIONS, default=DEFAULT_RESOLUTION)
    image_field = one_of_aliases(body, "image", "input_reference")
    references: tuple[ReferenceItem, ...] = ()
    if body.get("reference_images") is not None:
        if image_field is not None:
            raise invalid(
                "reference_images", f"cannot be combined with {image_field}", ["image", "reference_images"]
            )
        references = _reference_images(body["reference_images"])
        if duration > REFERENCE_DURATION_MAX_S:
            raise invalid(
                duration_field,
                f"is at most {REFERENCE_DURATION_MAX_S} with reference_images",
                {"min": low, "max": REFERENCE_DURATION_MAX_S},
            )
    elif image_field is not None:
        references = (image_reference(image_url(body[image_field], image_field)),)
    params = {"duration": duration, "aspect_ratio": aspect, "resolution": resolution}
    return build_request(
        model, prompt, params, references=references, reference_field=image_field or "reference_images"
    )


def _reference_images(value: Any) -> tuple[ReferenceItem, ...]:
    if not isinstance(value, list) or not value:
        raise invalid(
            "reference_images",
            "must be a non-empty array of {url} objects",
            {"max_items": REFERENCE_IMAGES_MAX},
        )
    if len(value) > REFERENCE_IMAGES_MAX:
        raise invalid(
            "reference_images",
            f"has {len(value)} items; at most {REFERENCE_IMAGES_MAX}",
            {"max_items": REFERENCE_IMAGES_MAX},
        )
    return tuple(image_reference(image_url(item, f"reference_images[{i}]")) for i, item in enumerate(value))


def video_job_request(catalog: Catalog, raw: Any, *, mode: str) -> GenerationRequest:
    """``/v1/videos/edits`` (mode ``video-edit``) or ``/extensions`` (``video-extension``) bodies."""
    body = json_object(raw)
    refuse_fields(body, ("output",))
    models = [m for m in catalog if m.output == "video" and mode in m.supported_modes]
    model_id = optional_text(body, "model")
    model: ModelContract | None = None
    if model_id is not None:
        model = find_model(catalog, model_id, output="video")
        if model not in models:
            raise invalid("model", f"{model.id} does not support {mode}", [m.id for m in models])
    elif models:
        model = models[0]
    if model is None:
        raise invalid("model", f"this gateway's catalog has no model for {mode}")
    prompt = required_text(body, "prompt", allowed={"max_length": model.max_prompt_length})
    if body.get("video") is None:
        raise invalid("video", "is required", ["url"])
    video = ReferenceItem(url=image_url(body["video"], "video"), kind="video")
    params: dict[str, Any] = {}
    if mode == "video-extension":
        low, high = EXTENSION_DURATION_S
        params["duration"] = whole_number(body, "duration", low=low, high=high, default=6)
    return build_request(model, prompt, params, references=(video,), reference_field="video")


@router.post("/v1/videos/generations", summary="Create a video (xAI shape)")
async def create_video(
    request: Request, ctx: Ctx, principal: CanCreate, idempotency_key: IdempotencyKey = None
) -> JSONResponse:
    gen = video_request(ctx.catalog, await read_json(request))
    task = await create_task(ctx, principal, gen, dialect=DIALECT, idempotency_key=idempotency_key)
    return JSONResponse({"request_id": task.id})


@router.post("/v1/videos/edits", summary="Edit a video (xAI shape)")
async def edit_video(
    request: Request, ctx: Ctx, principal: CanCreate, idempotency_key: IdempotencyKey = None
) -> JSONResponse:
    gen = video_job_request(ctx.catalog, await read_json(request), mode="video-edit")
    task = await create_task(ctx, principal, gen, dialect=DIALECT, idempotency_key=idempotency_key)
    return JSONResponse({"request_id": task.id})


@router.post("/v1/videos/extensions", summary="Extend a video (xAI shape)")
async def extend_video(
    request: Request, ctx: Ctx, principal: CanCreate, idempotency_key: IdempotencyKey = None
) -> JSONResponse:
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


class ImageCall:
    """A checked images body: the core request, how many images, and how to answer."""

    def __init__(self, request: GenerationRequest, *, n: int, response_format: str, deferred: bool) -> None:
        self.request = request
        self.n = n
        self.response_format = response_format
        self.deferred = deferred


def image_call(catalog: Catalog, raw: Any, *, edit: bool) -> ImageCall:
    """Check an images generations/edits body (xAI's contract; OpenAI's ``size`` also understood)."""
    body = json_object(raw)
    refuse_fields(body, UNSUPPORTED_IMAGE_FIELDS)
    model = find_model(catalog, optional_text(body, "model") or IMAGE_DEFAULT_MODEL, output="image")
    prompt = required_text(body, "prompt", allowed={"max_length": model.max_prompt_length})
    n = _whole(body, "n", low=1, high=IMAGES_MAX, default=1)
    response_format = choice(body, "response_format", ("url", "b64_json"), default="url")
    deferred = body.get("deferred") is True
    if body.get("deferred") not in (None, True, False):
        raise invalid("deferred", "must be a boolean")
    if deferred and n != 1:
        raise invalid("n", "must be 1 when deferred is true on this gateway", {"max": 1})
    if deferred and response_format != "url":
        raise invalid("response_format", "must be url when deferred is true", ["url"])
    choice(body, "resolution", ("1k",), default="1k")
    params: dict[str, Any] = {}
    aspect_field = one_of_aliases(body, "aspect_ratio", "size")
    if aspect_field == "size":
        params["aspect_ratio"] = _aspect_of_size(body["size"])
    elif aspect_field == "aspect_ratio":
        aspect = choice(body, "aspect_ratio", IMAGE_ASPECT_RATIOS, default="auto")
        if aspect != "auto":
            params["aspect_ratio"] = aspect
    references: tuple[ReferenceItem, ...] = ()
    if edit:
        source = one_of_aliases(body, "image", "images")
        if source is None:
            raise invalid("image", "is required (or images)", ["image", "images"])
        if source == "image":
            references = (image_reference(image_url(body["image"], "image")),)
        else:
            items = body["images"]
            if not isinstance(items, list) or not items or len(items) > IMAGE_EDIT_SOURCES_MAX:
                raise invalid(
                    "images",
                    f"must be an array of 1 to {IMAGE_EDIT_SOURCES_MAX} images",
                    {"max_items": IMAGE_EDIT_SOURCES_MAX},
                )
            references = tuple(image_reference(image_url(v, f"images[{i}]")) for i, v in enumerate(items))
    gen = build_request(model, prompt, params, references=references, reference_field="image")
    return ImageCall(gen, n=n, response_format=response_format, deferred=deferred)


def _whole(body: Body, name: str, *, low: int, high: int, default: int) -> int:
    value = body.get(name)
    if value is not None and (isinstance(value, bool) or not isinstance(value, int)):
        raise invalid(name, "must be an integer", {"min": low, "max": high})
    return whole_number(body, name, low=low, high=high, default=default)


def _aspect_of_size(value: Any) -> str:
    """OpenAI's ``size`` ("1024x1024", "1792x1024", ...) as the nearest listed aspect ratio (within 2 %)."""
    ratios = [r for r in IMAGE_ASPECT_RATIOS if r != "auto"]
    width, _, height = str(value).lower().partition("x")
    if not (width.isdigit() and height.isdigit() and int(width) > 0 and int(height) > 0):
        raise invalid("size", "must be WIDTHxHEIGHT, e.g. 1024x1024")
    wanted = int(width) / int(height)
    for ratio in ratios:
        a, b = ratio.split(":")
        if abs(float(a) / float(b) - wanted) / wanted <= 0.02:
            return ratio
    raise invalid("size", f"{value} has no supported aspect ratio", ratios)


async def run_images(
    ctx: AppContext, principal: Principal, call: ImageCall, idempotency_key: str | None
) -> Response:
    """Create the task(s); answer ``{request_id}`` when deferred, else wait and answer the images."""
    tasks = await create_tasks(
        ctx, principal, call.request, count=call.n, dialect=DIALECT, idempotency_key=idempotency_key
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
        data.append(await _image_item(ctx, ended, call.response_format))
    return JSONResponse({"created": unix_s(tasks[0].created_at), "data": data})


async def _image_item(ctx: AppContext, task: Task, response_format: str) -> dict[str, Any]:
    media = result_media(ctx, task) or []
    if not media:
        raise GenerationFailed(f"The image of {task.id} is no longer stored.")
    first = media[0]
    if response_format == "url":
        return {"url": first["url"], "mime_type": first["mime_type"]}
    data = await ctx.results.read_asset(task)
    return {"b64_json": base64.b64encode(data).decode(), "mime_type": first["mime_type"]}


@router.post("/v1/images/generations", summary="Generate images (xAI / OpenAI images shape)")
async def generate_images(
    request: Request, ctx: Ctx, principal: CanCreate, idempotency_key: IdempotencyKey = None
) -> Response:
    call = image_call(ctx.catalog, await read_json(request), edit=False)
    return await run_images(ctx, principal, call, idempotency_key)


@router.post("/v1/images/edits", summary="Edit images (xAI shape, JSON)")
async def edit_images(
    request: Request, ctx: Ctx, principal: CanCreate, idempotency_key: IdempotencyKey = None
) -> Response:
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
        {"request_id": task.id, "status": "done", "data": [await _image_item(ctx, task, "url")]}
    )
