"""PUT /upstream-uploads/{key}: where an upstream uploads a result into local storage.

The URL is handed to xAI as ``output.upload_url`` (bring-your-own-storage on local storage; S3
storage hands out pre-signed S3 URLs instead). Its token grants one key under
``upstream-results/`` until it expires; anything else answers 404, saying nothing more.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

from fastapi import APIRouter, Request
from starlette.responses import Response

from imagine_gateway.api.deps import Ctx
from imagine_gateway.media.upstream_uploads import check_upload_token

router = APIRouter(tags=["media"])


@router.put("/upstream-uploads/{key:path}", include_in_schema=False)
async def put_upstream_result(key: str, request: Request, ctx: Ctx, token: str | None = None) -> Response:
    check_upload_token(token, key, now=ctx.clock.now_ms() // 1000, secret=ctx.settings.signing_key)

    async def body() -> AsyncIterator[bytes]:
        async for chunk in request.stream():
            if chunk:
                yield chunk

    content_type = request.headers.get("content-type") or "application/octet-stream"
    await ctx.storage.put_stream(
        key, body(), content_type=content_type, max_bytes=ctx.settings.collect_max_bytes
    )
    return Response(status_code=200)
