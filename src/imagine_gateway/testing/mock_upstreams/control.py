"""Control endpoints, for a mock running in another process (a benchmark, or by hand with curl).

    GET   /_mock/stats            request counts, requests per job (min/mean/max), faults injected
    GET   /_mock/stats?jobs=1     ... plus the count for every job id
    GET   /_mock/config           the current MockConfig
    PATCH /_mock/config {...}     change settings, e.g. {"failure": "http_429", "fail_times": 3}

They need no key and are not counted; a mock is test support, never exposed.
"""

from __future__ import annotations

import dataclasses
import json
import typing
from pathlib import Path
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from imagine_gateway.testing.mock_upstreams.config import FailOn, FailureMode, MockConfig
from imagine_gateway.testing.mock_upstreams.state import MockUpstream

_CHOICES: dict[str, tuple[str, ...]] = {
    "failure": typing.get_args(FailureMode),
    "failure_on": typing.get_args(FailOn),
}
# JSON types each setting accepts (None where the setting is optional).
_TYPES: dict[str, tuple[type, ...]] = {
    "api_key": (str,),
    "generation_time_s": (int, float),
    "failure": (str,),
    "failure_on": (str,),
    "fail_times": (int, type(None)),
    "retry_after_s": (int,),
    "hang_s": (int, float),
    "public_base_url": (str, type(None)),
    "pending_body": (bool,),
    "dubrify_style": (bool,),
    "require_output_upload": (bool,),
    "media_bytes": (int, type(None)),
    "media_file": (str, type(None)),
    "video_duration_s": (int, float, type(None)),
    "share_media": (bool,),
    "media_bytes_per_s": (int, type(None)),
    "rate_limit": (int,),
    "rate_limit_window_s": (int,),
}


def control_routes() -> list[Route]:
    return [
        Route("/_mock/stats", _stats, methods=["GET"]),
        Route("/_mock/config", _config, methods=["GET", "PATCH"]),
    ]


def config_as_json(config: MockConfig) -> dict[str, Any]:
    out = dataclasses.asdict(config)
    out["media_file"] = None if config.media_file is None else str(config.media_file)
    return out


async def _stats(request: Request) -> Response:
    mock: MockUpstream = request.app.state.mock
    return JSONResponse(mock.summary(per_job=request.query_params.get("jobs") in ("1", "true")))


async def _config(request: Request) -> Response:
    mock: MockUpstream = request.app.state.mock
    if request.method == "PATCH":
        try:
            changes = json.loads(await request.body())
        except (UnicodeDecodeError, json.JSONDecodeError):
            return JSONResponse({"error": "the body must be a JSON object"}, 400)
        problem = _apply(mock.config, changes)
        if problem is not None:
            return JSONResponse({"error": problem}, 400)
    return JSONResponse(config_as_json(mock.config))


def _apply(config: MockConfig, changes: Any) -> str | None:
    """Check every change first, then apply them all; returns what was wrong, if anything."""
    if not isinstance(changes, dict):
        return "the body must be a JSON object"
    updates: dict[str, Any] = {}
    for name, value in changes.items():
        if name not in _TYPES:
            return f"unknown setting {name!r}; settings: {', '.join(_TYPES)}"
        accepted = _TYPES[name]
        if (isinstance(value, bool) and bool not in accepted) or not isinstance(value, accepted):
            return f"{name} must be of JSON type {' or '.join(t.__name__ for t in accepted)}"
        if name in _CHOICES and value not in _CHOICES[name]:
            return f"{name} must be one of {', '.join(_CHOICES[name])}"
        updates[name] = Path(str(value)) if name == "media_file" and value is not None else value
    for name, value in updates.items():
        setattr(config, name, value)
    return None
