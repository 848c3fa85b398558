"""Bring-your-own-storage, the storage side: signed upload URLs into our storage for an upstream.

    S3 storage      a pre-signed S3 PUT URL of the staging key (the upstream writes to the bucket)
    local storage   PUT {public_base_url}/upstream-uploads/{key}?token=... (a route of the gateway,
                    ``api/upload_routes.py``), the token an HMAC-signed, expiring grant for that key

Results are staged under ``upstream-results/<task>/<index>``; the provider side
(``providers/upstream_output.StorageOutputTarget``) hands out the URLs and reads the results back,
the collect step stores the checked copy under ``results/`` and the staged blob is removed.
"""

from __future__ import annotations

from imagine_gateway.core.errors import GatewayError, NotFound
from imagine_gateway.media.signing import sign_token, verify_token

STAGING_PREFIX = "upstream-results/"
UPLOAD_ROUTE = "/upstream-uploads/"
_TOKEN_TYPE = "upstream-upload"


def staging_key(task_id: str, index: int) -> str:
    return f"{STAGING_PREFIX}{task_id}/{index}"


def upload_token(key: str, *, expires_at: int, secret: bytes) -> str:
    """A grant to PUT one blob under ``key`` until ``expires_at`` (unix seconds)."""
    return sign_token({"typ": _TOKEN_TYPE, "key": key, "exp": expires_at}, secret=secret)


def check_upload_token(token: str | None, key: str, *, now: int, secret: bytes) -> None:
    """Raise ``NotFound`` unless ``token`` grants an upload to ``key`` now (no hint why)."""
    try:
        claims = verify_token(token or "", secret=secret, now=now)
    except GatewayError as exc:
        raise NotFound("No upload is expected here.") from exc
    if claims.get("typ") != _TOKEN_TYPE or claims.get("key") != key or not key.startswith(STAGING_PREFIX):
        raise NotFound("No upload is expected here.")
