"""Mock of grokimagineapi.com.

    POST /v1/generate {mode, prompt, images?, ratio}
        -> {"code":200,"message":"success","data":{"task_id"}}
    GET  /v1/status?task_id=...
        -> {"code":200,"message":"success","data":{consumed_credits, created_at, status, task_id,
            request, response:[urls]}}    status: pending -> processing -> completed | failed

Errors: ``{"code":<http status>,"message":"...","error":"INVALID_REQUEST"|...}`` with that HTTP status.
Every response carries ``X-RateLimit-Remaining`` and ``X-RateLimit-Reset`` (epoch seconds at which
the window of ``rate_limit_window_s`` restarts; the limit is reported, not enforced). This API has no
expired or moderated states: an ``expired`` outcome is reported as ``failed``, and ``moderation`` as
``completed`` with an empty ``response`` list, which a client must not take for success.
"""

from __future__ import annotations

import time
import uuid
from datetime import UTC, datetime

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from imagine_gateway.testing.mock_upstreams import params
from imagine_gateway.testing.mock_upstreams.config import MockConfig
from imagine_gateway.testing.mock_upstreams.media import video_dimensions, video_path
from imagine_gateway.testing.mock_upstreams.plumbing import (
    Headers,
    MockError,
    Shape,
    admit,
    base_url,
    build_app,
    json_object,
    mock_of,
)
from imagine_gateway.testing.mock_upstreams.state import Job, MockUpstream

MODES = ("fun", "normal", "spicy")
RATIOS = ("2:3", "3:2", "1:1")
CREDITS_PER_GENERATION = 40
VIDEO_DURATION_S = 6.0
# Share of the generation time a task reports "pending" before it turns "processing".
_PENDING_SHARE = 0.2

_ERRORS = {
    400: ("INVALID_REQUEST", "Invalid request: "),
    401: ("UNAUTHORIZED", "Unauthorized: "),
    404: ("NOT_FOUND", "Not found: "),
    405: ("METHOD_NOT_ALLOWED", "Method not allowed: "),
    429: ("RATE_LIMIT_EXCEEDED", "Rate limit exceeded: "),
    500: ("INTERNAL_ERROR", "Internal server error: "),
}


class _Window:
    """Fixed-window request count behind the X-RateLimit-* headers."""

    def __init__(self) -> None:
        self.start_s = 0
        self.count = 0

    def headers(self, mock: MockUpstream) -> Headers:
        window_s = max(1, mock.config.rate_limit_window_s)
        now_s = int(time.time())
        start_s = now_s - now_s % window_s
        if start_s != self.start_s:
            self.start_s, self.count = start_s, 0
        self.count += 1
        remaining = max(0, mock.config.rate_limit - self.count)
        if mock.config.failure == "http_429":
            remaining = 0
        return [
            (b"x-ratelimit-remaining", str(remaining).encode()),
            (b"x-ratelimit-reset", str(start_s + window_s).encode()),
        ]


def create_app(config: MockConfig | None = None) -> Starlette:
    """The grokimagineapi mock; ``app.state.mock`` is its ``MockUpstream``."""
    routes = [
        Route("/v1/generate", _generate, methods=["POST"]),
        Route("/v1/status", _status, methods=["GET"]),
    ]
    window = _Window()
    shape = Shape(render_error=_render_error, auth_error=_auth_error, response_headers=window.headers)
    return build_app("grokimagineapi", config, shape, routes)


def _render_error(error: MockError, request_id: str) -> Response:
    code, prefix = _ERRORS.get(error.status, ("ERROR", ""))
    body = {"code": error.status, "message": prefix + error.message, "error": error.code or code}
    return JSONResponse(body, error.status, headers=error.headers)


def _auth_error(presented: str | None) -> MockError:
    if presented is None:
        return MockError(401, "The Authorization header with a Bearer token is required")
    return MockError(401, "The API token is invalid")


def _success(data: dict[str, object]) -> Response:
    return JSONResponse({"code": 200, "message": "success", "data": data})


async def _generate(request: Request) -> Response:
    received = await admit(request, "submit")
    body = json_object(received, request)
    prompt = body.get("prompt")
    if not isinstance(prompt, str) or not prompt.strip():
        raise MockError(400, "The prompt parameter is required")
    params.choice(body, "mode", MODES, "normal")
    ratio = params.choice(body, "ratio", RATIOS, "1:1")
    images = body.get("images")
    if images is not None and (
        not isinstance(images, list) or not all(isinstance(url, str) and url for url in images)
    ):
        raise MockError(400, "The images parameter must be an array of URL strings")
    width, height = video_dimensions("480p", ratio)
    job = Job(
        id=f"task_{uuid.uuid4().hex}",
        media="video",
        model="grok-imagine",
        prompt=prompt,
        width=width,
        height=height,
        duration_s=VIDEO_DURATION_S,
        references=tuple(images or ()),
        request=body,
    )
    mock_of(request).add_job(job, received)
    return _success({"task_id": job.id})


async def _status(request: Request) -> Response:
    task_id = request.query_params.get("task_id", "")
    await admit(request, "poll", job_id=task_id or None)
    if not task_id:
        raise MockError(400, "The task_id parameter is required")
    mock = mock_of(request)
    job = mock.jobs.get(task_id)
    if job is None:
        raise MockError(404, f"Task {task_id} does not exist")
    view = mock.view(job)
    urls: list[str] = []
    if view.outcome is None:
        pending = view.elapsed_s < _PENDING_SHARE * mock.config.generation_time_s
        status = "pending" if pending else "processing"
    elif view.outcome in ("failed", "expired"):
        status = "failed"
    else:
        status = "completed"
        if view.outcome == "succeeded":
            urls = [video_path(base_url(request), job.id)]
    created_at = datetime.fromtimestamp(job.created_epoch_ms / 1000, tz=UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    return _success(
        {
            "consumed_credits": CREDITS_PER_GENERATION,
            "created_at": created_at,
            "status": status,
            "task_id": job.id,
            "request": job.request,
            "response": urls,
        }
    )
