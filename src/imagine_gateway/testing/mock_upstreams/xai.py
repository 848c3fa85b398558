"""Mock of xAI's Grok Imagine REST API (as xAI's API documentation describes it).

    POST /v1/videos/generations | /v1/videos/edits | /v1/videos/extensions  -> 200 {"request_id"}
    GET  /v1/videos/{request_id}   202 {"status":"pending","progress"} (or no body: ``pending_body``)
                                   200 done | failed | expired; 404 unknown
    POST /v1/images/generations | /v1/images/edits   -> 200 {"data":[...],"usage"} or, with
                                   ``deferred``, {"request_id"} polled at GET /v1/images/{request_id}

Errors are ``{"code": "...", "error": "..."}``. A missing key is 401; a wrong key is 400 "Incorrect
API key provided", as xAI's spec lists invalid keys under 400. Bodies must be JSON (multipart -> 400).
Synchronous image calls take ``generation_time_s``; there a ``failed`` outcome is a 500, and an
``expired`` one leaves URLs that answer 404. What each model accepts and costs is in ``xai_rules``.
With ``output.upload_url(s)`` the mock PUTs the results there when a poll first sees them done and
answers an empty URL (xAI keeps no copy); ``require_output_upload`` refuses videos without one, as
xAI does for zero-data-retention teams.
"""

from __future__ import annotations

import asyncio
import base64
import uuid
from collections.abc import Mapping
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from imagine_gateway.testing.mock_upstreams import params
from imagine_gateway.testing.mock_upstreams import xai_rules as rules
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

IMAGE_ASPECT_RATIOS = (
    *("1:1", "3:4", "4:3", "9:16", "16:9", "2:3", "3:2", "9:19.5", "19.5:9"),
    *("9:20", "20:9", "1:2", "2:1", "21:9", "5:2", "auto"),
)
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
_EDITED_VIDEO_DURATION_S = 6
_PROMPT_CHARS_MAX = 8192
_ZDR_MESSAGE = "Zero Data Retention teams must provide output.upload_url for video generation."


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


def _model(body: dict[str, Any], family: Mapping[str, str], other: Mapping[str, str], default: str) -> str:
    model = params.text(body, "model", required=False) or default
    if model in other:
        raise MockError(400, f"Model {model} does not support this endpoint.")
    if model not in family:
        raise MockError(
            404, f"The model {model} does not exist or your team does not have access to it.", "not-found"
        )
    return model


def _video_job(model: str, prompt: str, duration_s: float, resolution: str, aspect_ratio: str) -> Job:
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


def _output(request: Request, body: dict[str, Any], *, video: bool) -> list[str]:
    output = body.get("output")
    if output is None:
        if video and mock_of(request).config.require_output_upload:
            raise MockError(400, _ZDR_MESSAGE)
        return []
    key = "upload_url" if video else "upload_urls"
    value = output.get(key) if isinstance(output, dict) else None
    urls = [value] if video and isinstance(value, str) else value if isinstance(value, list) else None
    if not urls or not all(isinstance(u, str) and u.startswith(("http://", "https://")) for u in urls):
        raise MockError(400, f"output.{key} must be {'a URL' if video else 'an array of URLs'}.")
    return list(urls)


async def _generate_video(request: Request) -> Response:
    received = await admit(request, "submit")
    body = json_object(received, request)
    model = _model(body, rules.VIDEO_MODELS, rules.IMAGE_MODELS, rules.CLASSIC)
    checked = rules.check_video(model, body)
    uploads = _output(request, body, video=True)
    job = _video_job(
        rules.VIDEO_MODELS[model],
        checked["prompt"],
        checked["duration"],
        checked["resolution"],
        checked["aspect_ratio"],
    )
    job.references = tuple(checked["images"])
    job.request = body
    job.extra.update(family=checked["family"], uploads=uploads)
    shorter = mock_of(request).config.video_duration_s
    if shorter is not None:  # the clip delivered (and billed) is shorter than the one asked for
        job.duration_s = min(job.duration_s, float(shorter))
    mock_of(request).add_job(job, received)
    return JSONResponse({"request_id": job.id})


async def _edit_video(request: Request) -> Response:
    received = await admit(request, "submit")
    body = json_object(received, request)
    return await _video_from_source(request, body, received, extension=False)


async def _extend_video(request: Request) -> Response:
    received = await admit(request, "submit")
    body = json_object(received, request)
    return await _video_from_source(request, body, received, extension=True)


async def _video_from_source(
    request: Request, body: dict[str, Any], received: ReceivedRequest | None, *, extension: bool
) -> Response:
    model = _model(body, rules.VIDEO_MODELS, rules.IMAGE_MODELS, rules.CLASSIC)
    rules.check_source_model(model)
    prompt = params.text(body, "prompt", required=True, max_chars=_PROMPT_CHARS_MAX)
    if body.get("video") is None:
        raise MockError(400, "video is required.")
    source = params.media_ref(body["video"], "video")
    for key in ("resolution", "aspect_ratio") + (() if extension else ("duration",)):
        if body.get(key) is not None:
            raise MockError(400, f"{key} is not a field of video {'extensions' if extension else 'edits'}.")
    if extension:
        duration_s = float(params.integer(body, "duration", 2, 10, 6, strings=True))
    input_s = await rules.input_video_seconds(source)
    if input_s is None:
        raise MockError(400, "video must be a readable MP4 (a public URL or a data URL).")
    if extension:
        low, high = rules.EXTEND_INPUT_S
        if not low <= input_s <= high:
            raise MockError(
                400, f"The input video must be {low:g} to {high:g} s long; it is {input_s:.1f} s."
            )
    else:
        if input_s > rules.EDIT_INPUT_MAX_S:
            raise MockError(
                400,
                f"The input video must be at most {rules.EDIT_INPUT_MAX_S} s long; it is {input_s:.1f} s.",
            )
        duration_s = input_s
    uploads = _output(request, body, video=True)
    job = _video_job(model, prompt, duration_s, "480p", "16:9")
    job.request = body
    job.extra.update(family=rules.CLASSIC, uploads=uploads, input_s=input_s)
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
    if view.outcome == "moderation_failed":
        error = {
            "code": "invalid_argument",
            "message": "The generated video was rejected by content moderation.",
        }
        # A moderated video was made, and is billed as made.
        usage = {"cost_in_usd_ticks": _video_cost_ticks(job)}
        return JSONResponse({"status": "failed", "error": error, "usage": usage})
    if view.outcome == "expired":
        return JSONResponse({"status": "expired"})
    moderated = view.outcome == "moderation"
    uploads = job.extra.get("uploads") or []
    if uploads and not moderated:
        await rules.upload_once(job, [await mock.media.video(job)], uploads, "video/mp4")
    video = {
        # Delivered to the caller's storage: xAI keeps no copy to link to.
        "url": "" if moderated or uploads else video_path(base_url(request), job.id),
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
    family = job.extra.get("family", rules.CLASSIC)
    return rules.video_cost_ticks(
        family,
        job.extra.get("resolution", "480p"),
        job.duration_s,
        len(job.references),
        job.extra.get("input_s", 0.0),
    )


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
    model = _model(body, rules.IMAGE_MODELS, rules.VIDEO_MODELS, rules.IMAGE_V1)
    if body.get("image") is not None:
        sources = [params.media_ref(body["image"], "image")]
    else:
        limit = rules.EDIT_SOURCES_MAX[rules.IMAGE_MODELS[model]]
        sources = params.media_refs(body, "images", max_items=limit)
    if not sources:
        raise MockError(400, "image or images is required.")
    return await _images(request, body, received, sources=sources)


async def _images(
    request: Request, body: dict[str, Any], received: ReceivedRequest | None, sources: list[str]
) -> Response:
    mock = mock_of(request)
    model = _model(body, rules.IMAGE_MODELS, rules.VIDEO_MODELS, rules.IMAGE_V1)
    prompt = params.text(body, "prompt", required=True, max_chars=_PROMPT_CHARS_MAX)
    count = params.integer(body, "n", 1, 10, 1)
    response_format = params.choice(body, "response_format", ("url", "b64_json"), "url")
    aspect_ratio = params.choice(body, "aspect_ratio", IMAGE_ASPECT_RATIOS, "auto")
    quality, resolution = rules.check_image_settings(model, body, edit=bool(sources))
    uploads = _output(request, body, video=False)
    if uploads and len(uploads) != count:
        raise MockError(400, f"output.upload_urls needs one URL per image ({count}); got {len(uploads)}.")
    deferred = params.boolean(body, "deferred", False)
    if deferred and response_format != "url":
        raise MockError(400, "Deferred requests support response_format url only.")
    width, height = image_dimensions(aspect_ratio)
    job = Job(
        id=str(uuid.uuid4()),
        media="image",
        model=rules.IMAGE_MODELS[model],
        prompt=prompt,
        width=width,
        height=height,
        count=count,
        references=tuple(sources),
        request=body,
        extra={"quality": quality, "resolution": resolution, "uploads": uploads},
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
    if view.outcome == "moderation_failed":
        error = {
            "code": "invalid_argument",
            "message": "The generated image was rejected by content moderation.",
        }
        return JSONResponse({"request_id": job.id, "status": "failed", "error": error})
    uploads = job.extra.get("uploads") or []
    if uploads and job.outcome != "moderation":
        files = [await mock.media.image(job, i) for i in range(job.count)]
        await rules.upload_once(job, files, uploads, "image/png")
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
    quality, resolution = job.extra.get("quality", "standard"), job.extra.get("resolution", "1k")
    return rules.image_cost_ticks(job.model, quality, resolution, job.count, len(job.references))
