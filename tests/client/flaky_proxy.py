"""A real HTTP proxy in front of a gateway that fails chosen requests first (for retry tests)."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

import httpx
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

METHODS = ["GET", "POST", "PATCH", "DELETE"]
HOP_HEADERS = {"host", "content-length", "connection", "accept-encoding", "transfer-encoding"}


@dataclass
class FlakyProxy:
    """Requests matching ``method path`` take the next step of ``script``; the rest pass through.

    Steps: ``"503"`` answers 503 without forwarding; ``"503-after"`` forwards, then answers 503 as
    if the gateway's answer were lost; ``"429"`` answers 429 with ``Retry-After: 1``; ``"slow"``
    waits 1 s before passing through; ``"pass"`` forwards.
    """

    upstream: str
    method: str
    path: str
    script: list[str]
    seen: list[dict[str, str]] = field(default_factory=list)

    def app(self) -> Starlette:
        return Starlette(routes=[Route("/{rest:path}", self.handle, methods=METHODS)])

    async def handle(self, request: Request) -> Response:
        body = await request.body()
        step = "pass"
        if (request.method, request.url.path) == (self.method, self.path):
            self.seen.append(dict(request.headers))
            step = self.script.pop(0) if self.script else "pass"
        if step == "503":
            return _error(503, "upstream_unavailable", "Try again.", retry_after="0")
        if step == "429":
            return _error(429, "rate_limited", "Slow down.", retry_after="1")
        if step == "slow":
            await asyncio.sleep(1)
        headers = {k: v for k, v in request.headers.items() if k.lower() not in HOP_HEADERS}
        async with httpx.AsyncClient(base_url=self.upstream) as client:
            answer = await client.request(
                request.method, request.url.path, params=request.query_params, content=body, headers=headers
            )
        if step == "503-after":
            return _error(503, "upstream_unavailable", "The answer was lost.", retry_after="0")
        keep = {
            k: v for k, v in answer.headers.items() if k.lower() not in HOP_HEADERS | {"content-encoding"}
        }
        return Response(answer.content, answer.status_code, headers=keep)


def _error(status: int, code: str, message: str, *, retry_after: str) -> JSONResponse:
    return JSONResponse(
        {"error": {"code": code, "message": message, "requestId": "req_proxy"}},
        status_code=status,
        headers={"Retry-After": retry_after, "X-Request-Id": "req_proxy"},
    )
