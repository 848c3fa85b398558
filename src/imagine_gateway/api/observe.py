"""Per-request metrics, the access log and the request's log context.

Requests are counted by route *template* (``/api/v1/generations/{task_id}``, never the path) and by
dialect, so the label set stays as small as the route table. The access line, when enabled
(``IMAGINE_ACCESS_LOG``), carries the path without its query string: signed media URLs stay out.
"""

from __future__ import annotations

import logging
from typing import Any

from prometheus_client.metrics import MetricWrapperBase
from starlette.types import Scope

from imagine_gateway.telemetry import metrics

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


class Observer:
    """Counts and times answered requests, and writes the access line when it is on.

    The labelled children of the two metrics are kept by label values: finding one through
    ``labels()`` takes a lock and builds a key on every call, which the hot routes would pay twice
    per request. The label sets are bounded (route templates, methods, status codes), so is this.
    """

    def __init__(self, *, access_log: bool = False) -> None:
        self.access_log = access_log
        self._counters: dict[tuple[str, str, str, int], MetricWrapperBase] = {}
        self._timers: dict[tuple[str, str, str], MetricWrapperBase] = {}

    def record(
        self, scope: Scope, labels: tuple[str, str], status: int, elapsed_s: float, principal: Any
    ) -> None:
        route, dialect = labels
        method: str = scope.get("method", "GET")
        counted = (route, dialect, method, status)
        counter = self._counters.get(counted)
        if counter is None:
            counter = metrics.http_requests.labels(route, dialect, method, str(status))
            self._counters[counted] = counter
        counter.inc()  # type: ignore[attr-defined]
        timer = self._timers.get(counted[:3])
        if timer is None:
            timer = self._timers[counted[:3]] = metrics.http_latency.labels(route, dialect, method)
        timer.observe(elapsed_s)  # type: ignore[attr-defined]
        if self.access_log:
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
                    "duration_ms": round(elapsed_s * 1000, 1),
                    "dialect": dialect,
                    "account_id": getattr(principal, "account_id", None),
                    "client": client[0] if client else None,
                },
            )
