"""Mock of xAI's Grok Imagine REST API (``reference/xai-api.md``).

    POST /v1/videos/generations | /v1/videos/edits | /v1/videos/extensions  -> 200 {"request_id"}
    GET  /v1/videos/{request_id}   202 {"status":"pending","progress"} (or no body: ``pending_body``)
                                   200 done | failed | expired; 404 unknown
    POST /v1/images/generations | /v1/images/edits   -> 200 {"data":[...],"usage"} or, with
                                   ``deferred``, {"request_id"} polled at GET /v1/images/{request_id}

Errors are ``{"code": "...", "error": "..."}``. A missing key is 401; a wrong key is 400 "Incorrect
API key provided", as xAI's spec lists invalid keys under 400. Bodies must be JSON (multipart -> 400).
Synchronous image calls take ``generation_time_s``; there a ``failed`` outcome is a 500, and an
``expired`` one leaves URLs that answer 404. Costs use xAI's published per-second and per-image
prices (1.5 and 1080p prices are unpublished; the mock's guesses are in ``_VIDEO_TICKS_PER_S``).
"""

from __future__ import annotations

import asyncio
import base64
import uuid
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from imagine_gateway.testing.mock_upstreams import params
from imagine_gateway.testing.mock_upstreams.config import MockConfig
from imagine_gateway.testing.mock_upstreams.media import (
    image_dimensions,
    image_path,
    video_dimensions,
    video_path,
)
from imagine_gateway.testing.mock_upstreams.plumbing import (
    MockError,
    Shape,
    admit,
    base_url,
    build_app,
    json_object,
    mock_of,
)
from imagine_gateway.testing.mock_upstreams.state import Job, MockUpstream, ReceivedRequest

VIDEO_MODELS = frozenset(
    {
        "grok-imagine-video",
        "grok-imagine-video-1.5",
        "grok-imagine-video-1.5-preview",
        "grok-imagine-video-1.5-2026-05-30",
    }
)
IMAGE_MODELS = frozenset(
    {
        "grok-imagine-image",
        "grok-imagine-image-2.0",
        "grok-imagine-image-quality",
        "grok-imagine-image-pro",
        "grok-2-image-1212",
    }
)
VIDEO_ASPECT_RATIOS = ("1:1", "16:9", "9:16", "4:3", "3:4", "3:2", "2:3")
VIDEO_RESOLUTIONS = ("480p", "720p", "1080p")
IMAGE_ASPECT_RATIOS = (
    *("1:1", "3:4", "4:3", "9:16", "16:9", "2:3", "3:2", "9:19.5", "19.5:9"),
    *("9:20", "20:9", "1:2", "2:1", "21:9", "5:2", "auto"),
)
IMAGE_RESOLUTIONS = ("1k", "1.5k", "2k")

_CODES = {
    400: "invalid-argument",
    401: "unauthenticated",
    403: "permission-denied",
    404: "not-found",
    405: "method-not-allowed",
    422: "invalid-argument",
    429: "resource-exhausted",
    500: "internal",
}
_TICKS_PER_USD = 10_000_000_000
_VIDEO_TICKS_PER_S = {
    ("grok-imagine-video", "480p"): 500_000_000,
    ("grok-imagine-video", "720p"): 700_000_000,
    ("grok-imagine-video", "1080p"): 1_000_000_000,
    ("grok-imagine-video-1.5", "480p"): 800_000_000,
    ("grok-imagine-video-1.5", "720p"): 1_400_000_000,
    ("grok-imagine-video-1.5", "1080p"): 2_000_000_000,
}
_IMAGE_TICKS = _TICKS_PER_USD // 50  # $0.02 per output image
_IMAGE_INPUT_TICKS = _TICKS_PER_USD // 500  # $0.002 per input image
_REFERENCE_IMAGES_MAX = 7
_REFERENCE_DURATION_MAX_S = 10
_EDIT_SOURCES_MAX = 3
_EDITED_VIDEO_DURATION_S = 6
_PROMPT_CHARS_MAX = 8192


def create_app(config: MockConfig | None = None) -> Starlette:
    """The xAI mock; ``app.state.mock`` is its ``MockUpstream``."""
    routes = [
        Route("/v1/videos/generations", _generate_video, methods=["POST"]),
        Route("/v1/videos/edits", _edit_video, methods=["POST"]),
        Route("/v1/videos/extensions", _extend_video, methods=["POST"]),
        Route("/v1/videos/{request_id}", _get_video, methods=["GET"]),
        Route("/v1/images/generations", _generate_images, methods=["POST"]),
        Route("/v1/images/edits", _edit_images, methods=["POST"]),
        Route("/v1/images/{request_id}", _get_images, methods=["GET"]),
    ]
    return build_app("xai", config, Shape(render_error=_render_error, auth_error=_auth_error), routes)


def _render_error(error: MockError, request_id: str) -> Response:
    code = error.code or _CODES.get(error.status, "unknown")
    return JSONResponse({"code": code, "error": error.message}, error.status, headers=error.headers)


def _auth_error(presented: str | None) -> MockError:
    if presented is None:
        return MockError(401, "No API key provided. Send it as 'Authorization: Bearer <key>'.")
    masked = f"{presented[:2]}***{presented[-2:]}" if len(presented) > 4 else "***"
    return MockError(
        400,
        f"Incorrect API key provided: {masked}. You can obtain an API key from https://console.x.ai.",
        code="Client specified an invalid argument",
    )


# --- videos ---------------------------------------------------------------------------------------


def _model(body: dict[str, Any], family: frozenset[str], other: frozenset[str], default: str) -> str:
    model = params.text(body, "model", required=False) or default
    if model in other:
        raise MockError(400, f"Model {model} does not support this endpoint.")
    if model not in family:
        raise MockError(
            404, f"The model {model} does not exist or your team does not have access to it.", "not-found"
        )
    return model


def _video_job(model: str, prompt: str, duration_s: int, resolution: str, aspect_ratio: str) -> Job:
    width, height = video_dimensions(resolution, aspect_ratio)
    return Job(
        id=str(uuid.uuid4()),
        media="video",
        model=model,
        prompt=prompt,
        width=width,
        height=height,
        duration_s=float(duration_s),
        extra={"resolution": resolution},
    )


async def _generate_video(request: Request) -> Response:
    received = await admit(request, "submit")
    body = json_object(received, request)
    model = _model(body, VIDEO_MODELS, IMAGE_MODELS, "grok-imagine-video")
    first_frame = body.get("image", body.get("input_reference"))
    references = params.media_refs(body, "reference_images", max_items=_REFERENCE_IMAGES_MAX)
    if first_frame is not None and references:
        raise MockError(400, "image and reference_images cannot be used together.")
    image = params.media_ref(first_frame, "image") if first_frame is not None else None
    prompt = params.text(body, "prompt", required=image is None, max_chars=_PROMPT_CHARS_MAX)
    duration_key = "duration" if "duration" in body else "seconds"
    duration_s = params.integer(body, duration_key, 1, 15, 8, strings=True)
    if references and duration_s > _REFERENCE_DURATION_MAX_S:
        raise MockError(400, f"duration is at most {_REFERENCE_DURATION_MAX_S} with reference_images.")
    aspect_ratio = params.choice(body, "aspect_ratio", VIDEO_ASPECT_RATIOS, "16:9")
    resolution = params.choice(body, "resolution", VIDEO_RESOLUTIONS, "480p")
    job = _video_job(model, prompt, duration_s, resolution, aspect_ratio)
    job.references = tuple([image] if image else references)
    job.request = body
    mock_of(request).add_job(job, received)
    return JSONResponse({"request_id": job.id})


async def _edit_video(request: Request) -> Response:
    received = await admit(request, "submit")
    body = json_object(received, request)
    return _video_from_source(request, body, received, _EDITED_VIDEO_DURATION_S)


async def _extend_video(request: Request) -> Response:
    received = await admit(request, "submit")
    body = json_object(received, request)
    duration_s = params.integer(body, "duration", 2, 10, 6, strings=True)
    return _video_from_source(request, body, received, duration_s)


def _video_from_source(
    request: Request, body: dict[str, Any], received: ReceivedRequest | None, duration_s: int
) -> Response:
    model = _model(body, VIDEO_MODELS, IMAGE_MODELS, "grok-imagine-video")
    prompt = params.text(body, "prompt", required=True, max_chars=_PROMPT_CHARS_MAX)
    if body.get("video") is None:
        raise MockError(400, "video is required.")
    params.media_ref(body["video"], "video")
    job = _video_job(model, prompt, duration_s, "480p", "16:9")
    job.request = body
    mock_of(request).add_job(job, received)
    return JSONResponse({"request_id": job.id})


async def _get_video(request: Request) -> Response:
    request_id = request.path_params["request_id"]
    await admit(request, "poll", job_id=request_id)
    mock = mock_of(request)
    job = mock.jobs.get(request_id)
    if job is None or job.media != "video":
        raise MockError(404, f"No video request with id {request_id}.")
    view = mock.view(job)
    if view.outcome is None:
        if not mock.config.pending_body:
            return Response(status_code=202)
        return JSONResponse({"status": "pending", "progress": view.progress}, 202)
    if view.outcome == "failed":
        return JSONResponse(
            {"status": "failed", "error": {"code": "internal_error", "message": "Video generation failed."}}
        )
    if view.outcome == "expired":
        return JSONResponse({"status": "expired"})
    moderated = view.outcome == "moderation"
    video = {
        "url": "" if moderated else video_path(base_url(request), job.id),
        "duration": int(job.duration_s),
        "respect_moderation": not moderated,
    }
    return JSONResponse(
        {
            "status": "done",
            "video": video,
            "model": job.model,
            "progress": 100,
            "usage": {"cost_in_usd_ticks": _video_cost_ticks(job)},
        }
    )


def _video_cost_ticks(job: Job) -> int:
    family = "grok-imagine-video-1.5" if "1.5" in job.model else "grok-imagine-video"
    per_s = _VIDEO_TICKS_PER_S[(family, job.extra.get("resolution", "480p"))]
    return int(per_s * job.duration_s) + _IMAGE_INPUT_TICKS * len(job.references)


# --- images ---------------------------------------------------------------------------------------


async def _generate_images(request: Request) -> Response:
    received = await admit(request, "submit")
    body = json_object(received, request)
    return await _images(request, body, received, sources=[])


async def _edit_images(request: Request) -> Response:
    received = await admit(request, "submit")
    body = json_object(received, request)
    if body.get("image") is not None and body.get("images") is not None:
        raise MockError(400, "Send either image or images, not both.")
    if body.get("image") is not None:
        sources = [params.media_ref(body["image"], "image")]
    else:
        sources = params.media_refs(body, "images", max_items=_EDIT_SOURCES_MAX)
    if not sources:
        raise MockError(400, "image or images is required.")
    return await _images(request, body, received, sources=sources)


async def _images(
    request: Request, body: dict[str, Any], received: ReceivedRequest | None, sources: list[str]
) -> Response:
    mock = mock_of(request)
    model = _model(body, IMAGE_MODELS, VIDEO_MODELS, "grok-imagine-image")
    prompt = params.text(body, "prompt", required=True, max_chars=_PROMPT_CHARS_MAX)
    count = params.integer(body, "n", 1, 10, 1)
    response_format = params.choice(body, "response_format", ("url", "b64_json"), "url")
    aspect_ratio = params.choice(body, "aspect_ratio", IMAGE_ASPECT_RATIOS, "auto")
    params.choice(body, "resolution", IMAGE_RESOLUTIONS, "1k")
    params.choice(body, "quality", ("low", "medium", "high", "auto"), "auto")
    deferred = params.boolean(body, "deferred", False)
    if deferred and response_format != "url":
        raise MockError(400, "Deferred requests support response_format url only.")
    width, height = image_dimensions(aspect_ratio)
    job = Job(
        id=str(uuid.uuid4()),
        media="image",
        model=model,
        prompt=prompt,
        width=width,
        height=height,
        count=count,
        references=tuple(sources),
        request=body,
    )
    mock.add_job(job, received)
    if deferred:
        return JSONResponse({"request_id": job.id})

    await asyncio.sleep(max(0.0, mock.config.generation_time_s))
    outcome = mock.view(job).outcome
    if outcome == "failed":
        raise MockError(500, "Image generation failed.", "internal_error")
    data = await _image_data(request, mock, job, b64=response_format == "b64_json")
    return JSONResponse({"data": data, "usage": {"cost_in_usd_ticks": _image_cost_ticks(job)}})


async def _get_images(request: Request) -> Response:
    request_id = request.path_params["request_id"]
    await admit(request, "poll", job_id=request_id)
    mock = mock_of(request)
    job = mock.jobs.get(request_id)
    view = mock.view(job) if job is not None and job.media == "image" else None
    if job is None or view is None or view.outcome == "expired":
        raise MockError(404, f"No image request with id {request_id}.")
    if view.outcome is None:
        if not mock.config.pending_body:
            return Response(status_code=202)
        return JSONResponse({"request_id": job.id, "status": "pending"}, 202)
    if view.outcome == "failed":
        error = {"code": "internal_error", "message": "Image generation failed."}
        return JSONResponse({"request_id": job.id, "status": "failed", "error": error})
    data = await _image_data(request, mock, job, b64=False)
    return JSONResponse(
        {
            "request_id": job.id,
            "status": "done",
            "data": data,
            "usage": {"cost_in_usd_ticks": _image_cost_ticks(job)},
        }
    )


async def _image_data(request: Request, mock: MockUpstream, job: Job, *, b64: bool) -> list[dict[str, Any]]:
    if job.outcome == "moderation":
        # REST GeneratedImage has no respect_moderation; xAI's proto has it and blanks the result.
        return [{"url": "", "mime_type": "image/png", "respect_moderation": False}] * job.count
    if not b64:
        base = base_url(request)
        return [{"url": image_path(base, job.id, i), "mime_type": "image/png"} for i in range(job.count)]
    items = []
    for index in range(job.count):
        png = (await mock.media.image(job, index)).read_bytes()
        items.append({"b64_json": base64.b64encode(png).decode("ascii"), "mime_type": "image/png"})
    return items


def _image_cost_ticks(job: Job) -> int:
    return _IMAGE_TICKS * job.count + _IMAGE_INPUT_TICKS * len(job.references)
