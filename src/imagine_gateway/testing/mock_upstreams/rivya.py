"""Mock of the Rivya Public API v1 generation endpoints (Rivya's public API v1), our native shape.

    POST /api/v1/generations {model, prompt, params?, client_request_id?}
        -> 202 {id, status:"queued", model, reserved_credits, final_credits:0, created_at, updated_at,
                result:null, error:null}
    GET  /api/v1/generations/{id}
        queued -> processing -> succeeded (result {primary_url, urls}) | failed (error {code, message})

``Idempotency-Key`` replays the same task (202, current state) for the same body and answers 409
``idempotency_conflict`` for a different one. Errors: ``{"error":{"code","message","requestId"}}``.
Models and params follow the documented pages for grok-imagine-video, grok-imagine and z-image;
select values are strings, unknown params are rejected. Rivya documents no expired or moderated
state, so an ``expired`` outcome succeeds with URLs that answer 404, and ``moderation`` fails with
the code ``content_moderated`` (the mock's choice; only ``generation_failed`` is documented).
"""

from __future__ import annotations

import json
import secrets
import uuid
from dataclasses import dataclass, field
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from imagine_gateway.core.timefmt import iso_ms
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
from imagine_gateway.testing.mock_upstreams.state import Job, JobView, MediaKind

_PENDING_SHARE = 0.2  # share of the generation time a task stays "queued"
_CLIENT_REQUEST_ID_CHARS_MAX = 128
_CODES = {
    400: "validation_failed",
    401: "api_key_invalid",
    403: "api_scope_denied",
    404: "not_found",
    405: "method_not_allowed",
    409: "idempotency_conflict",
    429: "rate_limited",
    500: "internal_error",
}


@dataclass(frozen=True)
class _Param:
    default: str | int
    options: tuple[str, ...] = ()
    low: int = 0
    high: int = 0


@dataclass(frozen=True)
class _Model:
    media: MediaKind
    credits: int
    prompt_chars_max: int
    references_max: int
    params: dict[str, _Param] = field(default_factory=dict)


_RATIOS = ("1:1", "16:9", "9:16", "2:3", "3:2")
MODELS: dict[str, _Model] = {
    "grok-imagine-video": _Model(
        media="video",
        credits=10,
        prompt_chars_max=5000,
        references_max=1,
        params={
            "mode": _Param("normal", ("fun", "normal", "spicy")),
            "duration": _Param(6, low=6, high=30),
            "resolution": _Param("480p", ("480p", "720p")),
            "aspect_ratio": _Param("2:3", _RATIOS),
        },
    ),
    "grok-imagine": _Model(
        media="image",
        credits=4,
        prompt_chars_max=5000,
        references_max=1,
        params={"aspect_ratio": _Param("1:1", _RATIOS), "enable_pro": _Param("false", ("false", "true"))},
    ),
    "z-image": _Model(
        media="image",
        credits=1,
        prompt_chars_max=1000,
        references_max=0,
        params={"aspect_ratio": _Param("1:1", ("1:1", "4:3", "3:4", "16:9", "9:16"))},
    ),
}


def create_app(config: MockConfig | None = None) -> Starlette:
    """The Rivya mock; ``app.state.mock`` is its ``MockUpstream``."""
    routes = [
        Route("/api/v1/generations", _create, methods=["POST"]),
        Route("/api/v1/generations/{task_id}", _retrieve, methods=["GET"]),
    ]
    shape = Shape(render_error=_render_error, auth_error=_auth_error, new_request_id=_new_request_id)
    return build_app("rivya", config, shape, routes)


def _new_request_id() -> str:
    return f"req_{secrets.token_hex(12)}"


def _render_error(error: MockError, request_id: str) -> Response:
    code = error.code or _CODES.get(error.status, "internal_error")
    body = {"error": {"code": code, "message": error.message, "requestId": request_id}}
    return JSONResponse(body, error.status, headers=error.headers)


def _auth_error(presented: str | None) -> MockError:
    if presented is None:
        return MockError(401, "A valid Bearer API key is required.", "api_key_missing")
    return MockError(401, "The API key is not valid.", "api_key_invalid")


def _new_job(body: dict[str, Any]) -> Job:
    model_id = body.get("model")
    if not isinstance(model_id, str) or model_id not in MODELS:
        raise MockError(400, f"model must be one of {', '.join(MODELS)}; got {model_id!r}.")
    model = MODELS[model_id]
    prompt = body.get("prompt")
    if not isinstance(prompt, str) or not prompt.strip():
        raise MockError(400, "prompt is required for this model.")
    if len(prompt) > model.prompt_chars_max:
        raise MockError(400, f"prompt is longer than {model.prompt_chars_max} characters.")
    client_request_id = body.get("client_request_id")
    if client_request_id is not None and (
        not isinstance(client_request_id, str) or len(client_request_id) > _CLIENT_REQUEST_ID_CHARS_MAX
    ):
        raise MockError(
            400, f"client_request_id must be a string of at most {_CLIENT_REQUEST_ID_CHARS_MAX} chars."
        )
    raw_params = body.get("params", {})
    if not isinstance(raw_params, dict):
        raise MockError(400, "params must be an object.")
    values = _params(model, raw_params)
    references = _references(model, raw_params.get("referenceMediaItems"))

    if model.media == "video":
        width, height = video_dimensions(str(values["resolution"]), str(values["aspect_ratio"]))
    else:
        width, height = image_dimensions(str(values["aspect_ratio"]))
    return Job(
        id=f"task_{uuid.uuid4().hex}",
        media=model.media,
        model=model_id,
        prompt=prompt,
        width=width,
        height=height,
        duration_s=float(values.get("duration", 0)),
        references=references,
        request=body,
    )


def _params(model: _Model, raw: dict[str, Any]) -> dict[str, str | int]:
    unknown = sorted(set(raw) - set(model.params) - {"referenceMediaItems"})
    if unknown:
        allowed = ", ".join([*model.params, "referenceMediaItems"])
        raise MockError(400, f"params.{unknown[0]} is not a parameter of this model; allowed: {allowed}.")
    values: dict[str, str | int] = {}
    for key, spec in model.params.items():
        value = raw.get(key, spec.default)
        if spec.options:
            if not isinstance(value, str) or value not in spec.options:
                raise MockError(400, f"params.{key} must be one of {', '.join(spec.options)} (as a string).")
        elif isinstance(value, bool) or not isinstance(value, int) or not spec.low <= value <= spec.high:
            raise MockError(400, f"params.{key} must be an integer between {spec.low} and {spec.high}.")
        values[key] = value
    return values


def _references(model: _Model, items: Any) -> tuple[str, ...]:
    if items is None:
        return ()
    if not isinstance(items, list):
        raise MockError(400, "params.referenceMediaItems must be an array.")
    if len(items) > model.references_max:
        raise MockError(400, f"params.referenceMediaItems accepts at most {model.references_max} files.")
    urls = []
    for index, item in enumerate(items):
        if not isinstance(item, dict) or not isinstance(item.get("url"), str) or item.get("kind") != "image":
            raise MockError(400, f"params.referenceMediaItems[{index}] must be {{url, kind: 'image'}}.")
        urls.append(item["url"])
    return tuple(urls)


async def _create(request: Request) -> Response:
    received = await admit(request, "submit")
    body = json_object(received, request)
    mock = mock_of(request)
    key = request.headers.get("idempotency-key")
    canonical = json.dumps(body, sort_keys=True, separators=(",", ":"))
    if key is not None and key in mock.idempotency:
        previous_body, task_id = mock.idempotency[key]
        if previous_body != canonical:
            raise MockError(409, "This Idempotency-Key was already used with a different request body.")
        job = mock.jobs[task_id]
        mock.stats.by_job[job.id] += 1
        return JSONResponse(_task(request, job), 202)
    job = _new_job(body)
    mock.add_job(job, received)
    if key is not None:
        mock.idempotency[key] = (canonical, job.id)
    return JSONResponse(_task(request, job), 202)


async def _retrieve(request: Request) -> Response:
    task_id = request.path_params["task_id"]
    await admit(request, "poll", job_id=task_id)
    job = mock_of(request).jobs.get(task_id)
    if job is None:
        raise MockError(404, f"Generation {task_id} was not found.")
    return JSONResponse(_task(request, job))


def _task(request: Request, job: Job) -> dict[str, Any]:
    mock = mock_of(request)
    view = mock.view(job)
    credits = MODELS[job.model].credits
    generation_ms = int(mock.config.generation_time_s * 1000)
    status, updated_ms = _status(view, job.created_epoch_ms, generation_ms)
    result = error = None
    if status == "succeeded":
        base = base_url(request)
        url = video_path(base, job.id) if job.media == "video" else image_path(base, job.id, 0)
        result = {"primary_url": url, "urls": [url]}
    elif view.outcome == "moderation":
        error = {"code": "content_moderated", "message": "The result was withheld by content moderation."}
    elif status == "failed":
        error = {"code": "generation_failed", "message": "The generation failed."}
    return {
        "id": job.id,
        "status": status,
        "model": job.model,
        "reserved_credits": credits,
        "final_credits": credits if status == "succeeded" else 0,
        "created_at": iso_ms(job.created_epoch_ms),
        "updated_at": iso_ms(updated_ms),
        "result": result,
        "error": error,
    }


def _status(view: JobView, created_ms: int, generation_ms: int) -> tuple[str, int]:
    if view.outcome is None:
        if view.elapsed_s * 1000 < _PENDING_SHARE * generation_ms:
            return "queued", created_ms
        return "processing", created_ms + int(_PENDING_SHARE * generation_ms)
    finished_ms = created_ms + generation_ms
    if view.outcome in ("succeeded", "expired"):
        return "succeeded", finished_ms
    return "failed", finished_ms
