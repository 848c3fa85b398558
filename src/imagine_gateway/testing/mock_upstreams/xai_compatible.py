"""Mock of the xAI-compatible video relays (`/v1/videos/generations`) and of Dubrify (`/v1/videos`).

    POST /v1/videos/generations | /v1/videos   -> 200 {"request_id"}
    GET  /v1/videos/{request_id}
        running: 200 {"status":"pending"}
        done, relay style (default): xAI's body passed through:
            {"status":"done","model","video":{"url","duration":6,"respect_moderation":true},"progress":100}
        done, ``dubrify_style``: Dubrify's documented body, no status and string fields:
            {"model","video":{"url","duration":"6","respect_moderation":"true"}}
        failed: {"status":"failed","error":{"code","message"}};  expired: {"status":"expired"}
        moderation: the done body with respect_moderation false (or "false") and an empty url

Both seeds require ``model`` and ``prompt``; ``duration`` is 1..15 (Dubrify's default 6), and
``image`` cannot be combined with ``reference_images`` (as the relays do). Errors use the OpenAI-style
envelope these relays (new-api and kin) answer with: ``{"error":{"message","type","code"}}``.
"""

from __future__ import annotations

import uuid
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from imagine_gateway.testing.mock_upstreams import params, xai_rules
from imagine_gateway.testing.mock_upstreams.config import MockConfig
from imagine_gateway.testing.mock_upstreams.media import video_dimensions, video_path
from imagine_gateway.testing.mock_upstreams.plumbing import (
    MockError,
    Shape,
    admit,
    base_url,
    build_app,
    json_object,
    mock_of,
)
from imagine_gateway.testing.mock_upstreams.state import Job

MODELS = ("grok-imagine-video", "grok-imagine-video-1.5-preview", "grok-imagine-video-1.5")
ASPECT_RATIOS = ("16:9", "9:16", "1:1", "4:3", "3:4", "3:2", "2:3")
RESOLUTIONS = ("480p", "720p")
_REFERENCE_IMAGES_MAX = 7

_TYPES = {
    400: ("invalid_request_error", "invalid_request"),
    401: ("invalid_request_error", "invalid_api_key"),
    404: ("invalid_request_error", "not_found"),
    405: ("invalid_request_error", "method_not_allowed"),
    429: ("rate_limit_error", "rate_limit_exceeded"),
    500: ("server_error", "internal_error"),
}


def create_app(config: MockConfig | None = None) -> Starlette:
    """The relay mock; ``app.state.mock`` is its ``MockUpstream``."""
    routes = [
        Route("/v1/videos/generations", _submit, methods=["POST"]),
        Route("/v1/videos", _submit, methods=["POST"]),
        Route("/v1/videos/{request_id}", _poll, methods=["GET"]),
    ]
    shape = Shape(render_error=_render_error, auth_error=_auth_error)
    return build_app("xai_compatible", config, shape, routes)


def _render_error(error: MockError, request_id: str) -> Response:
    kind, default_code = _TYPES.get(error.status, ("server_error", "error"))
    body = {"error": {"message": error.message, "type": kind, "code": error.code or default_code}}
    return JSONResponse(body, error.status, headers=error.headers)


def _auth_error(presented: str | None) -> MockError:
    if presented is None:
        return MockError(401, "No API key provided (Authorization: Bearer <key>).")
    return MockError(401, "Invalid API key.")


async def _submit(request: Request) -> Response:
    received = await admit(request, "submit")
    body = json_object(received, request)
    model = params.text(body, "model", required=True)
    if model not in MODELS:
        raise MockError(400, f"model must be one of {', '.join(MODELS)}; got {model!r}.", "model_not_found")
    prompt = params.text(body, "prompt", required=True)
    duration_s = params.integer(body, "duration", 1, 15, 6)
    resolution = params.choice(body, "resolution", RESOLUTIONS, "480p")
    aspect_ratio = params.choice(body, "aspect_ratio", ASPECT_RATIOS, "16:9")
    references = params.media_refs(body, "reference_images", max_items=_REFERENCE_IMAGES_MAX)
    if body.get("image") is not None and references:
        raise MockError(400, "image cannot be used together with reference_images.")
    image = params.media_ref(body["image"], "image") if body.get("image") is not None else None
    width, height = video_dimensions(resolution, aspect_ratio)
    shorter = mock_of(request).config.video_duration_s
    if shorter is not None:  # the clip delivered (and billed) is shorter than the one asked for
        duration_s = min(duration_s, int(shorter))
    job = Job(
        id=f"grok_video_{uuid.uuid4().hex}",
        media="video",
        model=model,
        prompt=prompt,
        width=width,
        height=height,
        duration_s=float(duration_s),
        references=tuple([image] if image else references),
        request=body,
    )
    mock_of(request).add_job(job, received)
    return JSONResponse({"request_id": job.id})


async def _poll(request: Request) -> Response:
    request_id = request.path_params["request_id"]
    await admit(request, "poll", job_id=request_id)
    mock = mock_of(request)
    job = mock.jobs.get(request_id)
    if job is None:
        raise MockError(404, f"Task {request_id} not found.")
    view = mock.view(job)
    dubrify = mock.config.dubrify_style
    if view.outcome is None:
        return JSONResponse(
            {"status": "pending"} if dubrify else {"status": "pending", "progress": view.progress}
        )
    if view.outcome == "failed":
        error = {"code": "internal_error", "message": "Video generation failed."}
        return JSONResponse({"status": "failed", "error": error})
    if view.outcome == "expired":
        return JSONResponse({"status": "expired"})
    moderated = view.outcome == "moderation"
    url = "" if moderated else video_path(base_url(request), job.id)
    duration = int(job.duration_s)
    if dubrify:
        video: dict[str, Any] = {
            "url": url,
            "duration": str(duration),
            "respect_moderation": "false" if moderated else "true",
        }
        return JSONResponse({"model": job.model, "video": video})
    video = {"url": url, "duration": duration, "respect_moderation": not moderated}
    # Billed as xAI bills it: per second of the delivered clip at its resolution, per input image.
    usage = {"cost_in_usd_ticks": _cost_ticks(job)}
    done = {"status": "done", "model": job.model, "video": video, "progress": 100, "usage": usage}
    return JSONResponse(done)


def _cost_ticks(job: Job) -> int:
    family = xai_rules.VIDEO_MODELS.get(job.model, xai_rules.CLASSIC)
    resolution = str(job.request.get("resolution") or "480p") if isinstance(job.request, dict) else "480p"
    return xai_rules.video_cost_ticks(family, resolution, job.duration_s, len(job.references), 0.0)
