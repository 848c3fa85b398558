"""The operator's endpoints: ``/healthz``, ``/readyz`` (and ``/metrics``), on the API and on workers.

Plain Starlette routes over a ``Runtime``, so ``imagine worker``'s small listener serves the same
ones without the API's routes. They are left out of the OpenAPI document: they are not the API.
"""

from __future__ import annotations

from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from imagine_gateway.runtime import Runtime
from imagine_gateway.runtime.health import readiness


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

    return [Route("/healthz", healthz, methods=["GET"]), Route("/readyz", readyz, methods=["GET"])]


def _phase(runtime: Runtime) -> dict[str, Any]:
    return {"status": "failing", "detail": runtime.phase}


def ops_app(runtime: Runtime) -> Starlette:
    """The worker's listener: only the operator's routes."""
    return Starlette(routes=ops_routes(runtime))
