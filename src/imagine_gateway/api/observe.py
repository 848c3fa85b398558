"""Per-request metrics, the access log and the request's log context.

Requests are counted by route *template* (``/api/v1/generations/{task_id}``, never the path) and by
dialect, so the label set stays as small as the route table. The access line, when enabled
(``IMAGINE_ACCESS_LOG``), carries the path without its query string: signed media URLs stay out.
"""

from __future__ import annotations

import logging
import time
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from imagine_gateway.telemetry import logs, metrics

access = logging.getLogger("imagine_gateway.access")

# Route tags of the dialect routers -> the dialect's short name.
_DIALECT_TAGS = {
    "xAI dialect": "xai",
    "grokimagineapi dialect": "grokimagineapi",
    "OpenAI videos / Dubrify dialects": "openai_videos",
}


def route_labels(scope: Scope) -> tuple[str, str]:
    """(route template, dialect) of a served request; ``unmatched`` when no route took it."""
    route: Any = scope.get("route")
    template = getattr(route, "path", None)
    if not isinstance(template, str):
        # A plain route without parameters (/healthz) leaves only its endpoint behind.
        return (scope.get("path", "unmatched"), "none") if "endpoint" in scope else ("unmatched", "none")
    for tag in getattr(route, "tags", None) or ():
        if tag in _DIALECT_TAGS:
            return template, _DIALECT_TAGS[tag]
    return template, "native" if template.startswith("/api/v1") else "none"


class ObserveMiddleware:
    """Counts and times every HTTP request; binds its id to the log lines written while it runs."""

    def __init__(self, app: ASGIApp, *, access_log: bool = False) -> None:
        self.app = app
        self.access_log = access_log

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        state = scope.setdefault("state", {})
        logs.clear()
        logs.bind(request_id=state.get("request_id"))
        status = 500  # what the client gets when the app raises before answering

        async def send_observed(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, send_observed)
        finally:
            elapsed = time.perf_counter() - started
            route, dialect = route_labels(scope)
            method = scope.get("method", "GET")
            metrics.http_requests.labels(route, dialect, method, str(status)).inc()
            metrics.http_latency.labels(route, dialect, method).observe(elapsed)
            if self.access_log:
                principal = state.get("principal")
                client = scope.get("client")
                access.info(
                    "%s %s %d",
                    method,
                    scope.get("path", ""),
                    status,
                    extra={
                        "event": "http.request",
                        "method": method,
                        "route": route,
                        "path": scope.get("path", ""),
                        "status": status,
                        "duration_ms": round(elapsed * 1000, 1),
                        "dialect": dialect,
                        "account_id": getattr(principal, "account_id", None),
                        "client": client[0] if client else None,
                    },
                )
