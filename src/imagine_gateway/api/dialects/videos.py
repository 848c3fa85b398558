"""The ``/v1/videos`` resource, which three seeds' clients share.

    POST   /v1/videos                 OpenAI videos (JSON or multipart) and Dubrify (JSON) create
    GET    /v1/videos                 OpenAI list (after / limit / order)
    GET    /v1/videos/{id}            OpenAI retrieve, Dubrify poll, and xAI's poll of /v1/videos/generations
    DELETE /v1/videos/{id}            OpenAI delete
    GET    /v1/videos/{id}/content    OpenAI download (variant=video|thumbnail)

One response serves OpenAI and Dubrify clients: the OpenAI ``Video`` object plus Dubrify's keys,
``request_id`` (= ``id``) and, once done, ``video: {url, duration, respect_moderation}``. Dubrify's
clients decide "done" by the presence of ``video``; OpenAI's read ``status``. The status word while
running follows the body that created the task: a Dubrify-shaped body (``duration``, ``resolution``,
``aspect_ratio`` or ``image``) makes a ``dubrify`` task, shown ``pending`` as Dubrify does; anything
else (multipart, ``seconds``/``size``/``input_reference``, or only model + prompt) makes an ``openai``
task, shown ``queued`` then ``in_progress``. Both end ``completed`` or ``failed``. A task created
through xAI's ``/v1/videos/generations`` is answered in xAI's own poll shape (202 while pending).
See docs/dialects.md.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated, Any

from fastapi import APIRouter, Header, Query, Request
from fastapi.responses import JSONResponse
from starlette.datastructures import FormData, UploadFile
from starlette.responses import Response

from imagine_gateway.api.context import AppContext
from imagine_gateway.api.deps import CanCreate, CanRead, Ctx, read_json
from imagine_gateway.api.dialects import xai
from imagine_gateway.api.dialects.common import (
    Body,
    build_request,
    choice,
    create_task,
    find_model,
    image_reference,
    image_url,
    json_object,
    one_of_aliases,
    optional_text,
    read_task,
    required_text,
    result_media,
    task_error,
    unix_s,
    whole_number,
    whole_seconds,
)
from imagine_gateway.api.request_json import check_text
from imagine_gateway.catalog.contract import ModelContract
from imagine_gateway.catalog.validation import GenerationRequest, ReferenceItem
from imagine_gateway.core.errors import NotFound, TaskStateConflict, invalid
from imagine_gateway.core.records import Task
from imagine_gateway.core.states import TaskState
from imagine_gateway.media.dimensions import VIDEO_DIMENSIONS
from imagine_gateway.media.serving import PRESIGNED_URL_TTL_S, blob_response
from imagine_gateway.services.pagination import cursor_after
from imagine_gateway.services.principal import Principal

router = APIRouter(tags=["OpenAI videos / Dubrify dialects"])

DEFAULT_MODEL = "grok-imagine-video"
DURATION_S = (1, 15)
# Dubrify's defaults: OpenAI's ("4" s, 720x1280) are Sora's, another model.
DEFAULT_DURATION_S = 6
DEFAULT_RESOLUTION = "480p"
DEFAULT_ASPECT_RATIO = "16:9"
RESOLUTIONS = ("480p", "720p")
ASPECT_RATIOS = ("16:9", "9:16", "1:1", "4:3", "3:4", "3:2", "2:3")
SIZES = {f"{w}x{h}": key for key, (w, h) in VIDEO_DIMENSIONS.items()}
DUBRIFY_FIELDS = frozenset({"duration", "resolution", "aspect_ratio", "image"})
LIST_MAX = 100
UPLOAD_CHUNK_BYTES = 1 << 16

_OPENAI_WORDS = {
    TaskState.QUEUED: "queued",
    TaskState.SUBMITTING: "in_progress",
    TaskState.PROCESSING: "in_progress",
    TaskState.COLLECTING: "in_progress",
    TaskState.SUCCEEDED: "completed",
    TaskState.FAILED: "failed",
    TaskState.CANCELED: "failed",
}
_DUBRIFY_WORDS = {
    **_OPENAI_WORDS,
    **{
        s: "pending"
        for s in (TaskState.QUEUED, TaskState.SUBMITTING, TaskState.PROCESSING, TaskState.COLLECTING)
    },
}


# --- create ------------------------------------------------------------------------------------


def dialect_of(body: Body) -> str:
    """``dubrify`` for a Dubrify-shaped JSON body, else ``openai`` (see the module docstring)."""
    if any(body.get(k) is not None for k in ("seconds", "size", "input_reference")):
        return "openai"
    return "dubrify" if any(body.get(k) is not None for k in DUBRIFY_FIELDS) else "openai"


def create_request(ctx: AppContext, body: Body, *, reference: ReferenceItem | None) -> GenerationRequest:
    """Check an OpenAI or Dubrify create body (each client's fields, with the conflicts refused)."""
    model = find_model(ctx.catalog, optional_text(body, "model") or DEFAULT_MODEL, output="video")
    prompt = required_text(body, "prompt", allowed={"max_length": model.max_prompt_length})
    low, high = DURATION_S
    seconds_field = one_of_aliases(body, "seconds", "duration") or "duration"
    duration = whole_number(body, seconds_field, low=low, high=high, default=DEFAULT_DURATION_S)
    one_of_aliases(body, "size", "aspect_ratio")
    one_of_aliases(body, "size", "resolution")
    if body.get("size") is not None:
        size = str(body["size"]).lower()
        if size not in SIZES:
            raise invalid("size", f"'{size[:40]}' is not a size this gateway renders", list(SIZES))
        resolution, aspect = SIZES[size]
    else:
        resolution = choice(body, "resolution", RESOLUTIONS, default=DEFAULT_RESOLUTION)
        aspect = choice(body, "aspect_ratio", ASPECT_RATIOS, default=DEFAULT_ASPECT_RATIO)
    image_field = one_of_aliases(body, "image", "input_reference")
    if reference is None and image_field is not None:
        reference = image_reference(image_url(body[image_field], image_field))
    params = {"duration": duration, "resolution": resolution, "aspect_ratio": aspect}
    return build_request(
        model,
        prompt,
        params,
        references=(reference,) if reference else (),
        reference_field=image_field or "input_reference",
    )


def _form_fields(form: FormData) -> tuple[dict[str, Any], UploadFile | None]:
    fields: dict[str, Any] = {}
    upload: UploadFile | None = None
    for name, value in form.multi_items():
        check_text(name, "body")
        if isinstance(value, str):
            check_text(value, name)
        if isinstance(value, UploadFile):
            if name != "input_reference":
                raise invalid(name, "is not a file field", ["input_reference"])
            upload = value
        elif name == "input_reference[image_url]":
            fields["input_reference"] = {"image_url": value}
        elif name == "input_reference[file_id]":
            fields["input_reference"] = {"file_id": value}
        else:
            fields[name] = value
    return fields, upload


async def _store_upload(
    ctx: AppContext, principal: Principal, upload: UploadFile, model: ModelContract
) -> ReferenceItem:
    """Keep an uploaded ``input_reference`` through the Files API and reference its URL."""
    files = ctx.files
    if files is None:
        raise invalid("input_reference", "file uploads need the Files API, which is not enabled here")

    async def chunks() -> AsyncIterator[bytes]:
        while chunk := await upload.read(UPLOAD_CHUNK_BYTES):
            yield chunk

    record = await files.save(
        principal,
        stream=chunks(),
        filename=upload.filename,
        kind="image",
        model=model.id,
        client_request_id=None,
    )
    return image_reference(files.public_url(record))


@router.post("/v1/videos", summary="Create a video (OpenAI videos or Dubrify shape)")
async def create_video(
    request: Request,
    ctx: Ctx,
    principal: CanCreate,
    idempotency_key: Annotated[str | None, Header(alias="Idempotency-Key")] = None,
) -> JSONResponse:
    if request.headers.get("content-type", "").lower().startswith("multipart/form-data"):
        async with request.form() as form:  # closing it removes the spooled upload
            body, upload = _form_fields(form)
            task = await _create(ctx, principal, body, upload, "openai", idempotency_key)
    else:
        body = dict(json_object(await read_json(request)))
        task = await _create(ctx, principal, body, None, dialect_of(body), idempotency_key)
    return JSONResponse(video_object(ctx, task))


async def _create(
    ctx: AppContext,
    principal: Principal,
    body: Body,
    upload: UploadFile | None,
    dialect: str,
    idempotency_key: str | None,
) -> Task:
    gen = create_request(ctx, body, reference=None)
    if upload is not None:
        if gen.references:
            raise invalid("input_reference", "give one input_reference, as a file or as an image_url")
        gen = create_request(ctx, body, reference=await _store_upload(ctx, principal, upload, gen.model))
    return await create_task(ctx, principal, gen, dialect=dialect, idempotency_key=idempotency_key)


# --- read --------------------------------------------------------------------------------------


def video_object(ctx: AppContext, task: Task) -> dict[str, Any]:
    """The shared OpenAI ``Video`` + Dubrify body of a video task."""
    words = _DUBRIFY_WORDS if task.dialect == "dubrify" else _OPENAI_WORDS
    params = task.params
    duration = whole_seconds(params.get("duration"))
    size = VIDEO_DIMENSIONS.get((str(params.get("resolution")), str(params.get("aspect_ratio"))))
    body: dict[str, Any] = {
        "id": task.id,
        "object": "video",
        "request_id": task.id,
        "model": task.model,
        "status": words[task.task_state],
        "progress": task.progress,
        "created_at": unix_s(task.created_at),
        "completed_at": unix_s(task.completed_at),
        "expires_at": unix_s(task.expires_at),
        "prompt": task.prompt,
        "seconds": None if duration is None else str(duration),
        "size": None if size is None else f"{size[0]}x{size[1]}",
        "remixed_from_video_id": None,
        "error": task_error(task),
    }
    media = result_media(ctx, task) if task.task_state is TaskState.SUCCEEDED else None
    if media:
        # Dubrify's example writes both values as strings.
        body["video"] = {
            "url": media[0]["url"],
            "duration": str(whole_seconds(media[0]["duration_seconds"])),
            "respect_moderation": "true",
        }
    return body


@router.get("/v1/videos", summary="List videos (OpenAI shape)")
async def list_videos(
    ctx: Ctx,
    principal: CanRead,
    after: str | None = None,
    limit: Annotated[int, Query(ge=1, le=LIST_MAX)] = 20,
    order: Annotated[str, Query(pattern="^(asc|desc)$")] = "desc",
) -> dict[str, Any]:
    cursor = None
    if after:
        anchor = await read_task(ctx, principal, after, output="video")
        cursor = cursor_after(anchor)
    found: list[Task] = []
    # The list holds video tasks only: page through all tasks, keeping the videos.
    while len(found) <= limit:
        page = await ctx.generations.list(
            principal, cursor=cursor, limit=LIST_MAX, newest_first=order == "desc"
        )
        found += [t for t in page.items if _is_video(ctx, t)]
        if page.next_cursor is None:
            break
        cursor = page.next_cursor
    items = found[:limit]
    return {
        "object": "list",
        "data": [video_object(ctx, t) for t in items],
        "first_id": items[0].id if items else None,
        "last_id": items[-1].id if items else None,
        "has_more": len(found) > limit,
    }


def _is_video(ctx: AppContext, task: Task) -> bool:
    model = ctx.catalog.get(task.model)
    return model is not None and model.output == "video"


@router.get("/v1/videos/{video_id}", summary="Retrieve a video (OpenAI / Dubrify / xAI poll)")
async def get_video(video_id: str, ctx: Ctx, principal: CanRead) -> Response:
    task = await read_task(ctx, principal, video_id, output="video")
    if task.dialect == xai.DIALECT:
        return xai.video_poll_response(ctx, task)
    return JSONResponse(video_object(ctx, task))


@router.delete("/v1/videos/{video_id}", summary="Delete a video (OpenAI shape)")
async def delete_video(video_id: str, ctx: Ctx, principal: CanCreate) -> dict[str, Any]:
    """A running video is canceled (credits released); a finished one loses its stored files."""
    task = await read_task(ctx, principal, video_id, output="video")
    if not task.task_state.is_terminal:
        try:
            await ctx.generations.cancel(principal, task.id)
        except TaskStateConflict:
            task = await read_task(ctx, principal, video_id, output="video")  # it ended meanwhile
    if task.task_state is TaskState.SUCCEEDED:
        await ctx.results.delete_result(principal, task.id)
    return {"id": task.id, "object": "video.deleted", "deleted": True}


@router.get("/v1/videos/{video_id}/content", summary="Download a video or its thumbnail (OpenAI shape)")
async def video_content(
    video_id: str,
    request: Request,
    ctx: Ctx,
    principal: CanRead,
    variant: str = "video",
    range_header: Annotated[str | None, Header(alias="Range")] = None,
    if_none_match: Annotated[str | None, Header(alias="If-None-Match")] = None,
) -> Response:
    if variant not in ("video", "thumbnail"):
        raise invalid("variant", f"'{variant[:40]}' is not available", ["video", "thumbnail"])
    task = await read_task(ctx, principal, video_id, output="video")
    if task.task_state is not TaskState.SUCCEEDED:
        raise TaskStateConflict(
            f"Video {task.id} is {_OPENAI_WORDS[task.task_state]}; its content is "
            "available once it is completed."
        )
    if result_media(ctx, task) is None:
        raise NotFound(f"The content of video {task.id} has expired or was deleted.")
    assert task.result is not None  # result_media found media
    asset = task.result.assets[0]
    key = asset.key if variant == "video" else asset.poster_key
    if not key:
        raise NotFound(f"Video {task.id} has no {variant}.")
    return await blob_response(
        ctx.storage,
        key,
        range_header=range_header,
        if_none_match=if_none_match,
        method=request.method,
        # The caller's key was checked above, so S3 may serve the bytes directly (as /media does).
        redirect_ttl_s=PRESIGNED_URL_TTL_S if ctx.settings.s3_presigned_redirects else None,
    )
