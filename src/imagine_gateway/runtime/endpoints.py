"""The operator's endpoints: ``/healthz``, ``/readyz`` and ``/metrics``, on the API and on workers.

Plain Starlette routes over a ``Runtime``, so ``imagine worker``'s small listener serves the same
ones without the API's routes. They are left out of the OpenAPI document: they are not the API.

``/metrics`` asks for ``Authorization: Bearer <IMAGINE_METRICS_TOKEN>`` when a token is set; without
one it answers only clients on loopback (a Prometheus on the same host, or a sidecar).
"""

from __future__ import annotations

import hmac
from typing import Any

from prometheus_client import CONTENT_TYPE_LATEST
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from imagine_gateway.runtime import Runtime
from imagine_gateway.runtime.health import readiness
from imagine_gateway.runtime.scrape import exposition, read_values

LOOPBACK = frozenset({"127.0.0.1", "::1", "localhost"})


def ops_routes(runtime: Runtime) -> list[Route]:
    """The routes, bound to ``runtime``."""

    async def healthz(request: Request) -> Response:
        # Alive: this process answers. Nothing else is asked (a restart would not fix a database).
        return JSONResponse({"status": "ok"}, headers={"Cache-Control": "no-store"})

    async def readyz(request: Request) -> Response:
        if runtime.phase == "starting":
            ready, body = False, {"status": "not_ready", "checks": {"shutdown": _phase(runtime)}}
        else:
            ready, body = await readiness(runtime.context, stopping=runtime.phase == "stopping")
        return JSONResponse(body, status_code=200 if ready else 503, headers={"Cache-Control": "no-store"})

    async def metrics(request: Request) -> Response:
        refusal = _metrics_refusal(runtime, request)
        if refusal is not None:
            return refusal
        values = await read_values(runtime.context)
        return Response(
            exposition(values), media_type=CONTENT_TYPE_LATEST, headers={"Cache-Control": "no-store"}
        )

    return [
        Route("/healthz", healthz, methods=["GET"]),
        Route("/readyz", readyz, methods=["GET"]),
        Route("/metrics", metrics, methods=["GET"]),
    ]


def _metrics_refusal(runtime: Runtime, request: Request) -> Response | None:
    """None when the scrape may go on; else the answer (401 without the token, 403 off loopback)."""
    token = runtime.settings.metrics_token
    if token is not None:
        sent = request.headers.get("authorization", "")
        expected = f"Bearer {token.get_secret_value()}"
        if hmac.compare_digest(sent.encode(), expected.encode()):
            return None
        return JSONResponse(
            {"error": {"code": "unauthorized", "message": "Metrics need the configured bearer token."}},
            status_code=401,
            headers={"WWW-Authenticate": "Bearer"},
        )
    host = request.client.host if request.client is not None else ""
    if host in LOOPBACK:
        return None
    return JSONResponse(
        {
            "error": {
                "code": "forbidden",
                "message": "Metrics are served to loopback only; "
                "set IMAGINE_METRICS_TOKEN to scrape from elsewhere.",
            }
        },
        status_code=403,
    )


def _phase(runtime: Runtime) -> dict[str, Any]:
    return {"status": "failing", "detail": runtime.phase}


def ops_app(runtime: Runtime) -> Starlette:
    """The worker's listener: only the operator's routes."""
    return Starlette(routes=ops_routes(runtime))
