"""GET/HEAD /media/{key}: signed, expiring access to stored blobs (Range, ETag).

The signature is checked first, always: a redirect to S3 (``IMAGINE_S3_PRESIGNED_REDIRECTS``) is only
ever handed to a request the gateway itself would have served.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Header, Query, Request
from starlette.responses import Response

from imagine_gateway.api.deps import Ctx
from imagine_gateway.media.serving import PRESIGNED_URL_TTL_S, blob_response
from imagine_gateway.media.signing import verify_media_signature

router = APIRouter(tags=["media"])


@router.head("/media/{key:path}", include_in_schema=False)
@router.get("/media/{key:path}", summary="Download a stored result or upload")
async def get_media(
    key: str,
    request: Request,
    ctx: Ctx,
    exp: str | None = None,
    sig: str | None = None,
    download: Annotated[str | None, Query()] = None,
    range_header: Annotated[str | None, Header(alias="Range")] = None,
    if_none_match: Annotated[str | None, Header(alias="If-None-Match")] = None,
) -> Response:
    now = ctx.clock.now_ms() // 1000
    verify_media_signature(key, exp, sig, now=now, secret=ctx.signing_key)
    redirect_ttl_s = None
    if ctx.settings.s3_presigned_redirects and exp is not None:
        # The direct URL never outlives the signed one it was reached through.
        redirect_ttl_s = max(1, min(PRESIGNED_URL_TTL_S, int(exp) - now))
    return await blob_response(
        ctx.storage,
        key,
        range_header=range_header,
        if_none_match=if_none_match,
        download_name=download,
        method=request.method,
        redirect_ttl_s=redirect_ttl_s,
    )
