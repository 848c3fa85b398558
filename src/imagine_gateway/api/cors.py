"""Cross-origin requests from browser apps, allowed for the origins in ``IMAGINE_CORS_ORIGINS``.

Off by default: with no origins configured no CORS header is ever sent and a preflight ``OPTIONS``
gets the ordinary 405. Keys travel in the ``Authorization`` header, never in cookies, so credentials
mode stays off and ``*`` may be used to allow any origin.
"""

from __future__ import annotations

from fastapi import FastAPI
from starlette.middleware.cors import CORSMiddleware

from imagine_gateway.settings import Settings

# Response headers a browser app may read: request ids, rate limits, idempotency and ranges.
EXPOSED_HEADERS = [
    "X-Request-Id",
    "Retry-After",
    "X-RateLimit-Limit",
    "X-RateLimit-Remaining",
    "X-RateLimit-Reset",
    "Idempotent-Replayed",
    "Content-Range",
    "Content-Disposition",
]
PREFLIGHT_MAX_AGE_S = 600


def install_cors(app: FastAPI, settings: Settings) -> None:
    """Answer preflights and mark responses for the configured origins (call after every other
    middleware, so that errors from them carry the headers too)."""
    if not settings.cors_origins:
        return
    app.add_middleware(
        CORSMiddleware,
        allow_origins=list(settings.cors_origins),
        allow_methods=["GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"],
        allow_headers=["*"],
        expose_headers=EXPOSED_HEADERS,
        allow_credentials=False,
        max_age=PREFLIGHT_MAX_AGE_S,
    )
