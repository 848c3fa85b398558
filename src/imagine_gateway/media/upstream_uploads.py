"""Bring-your-own-storage, the storage side: signed upload URLs into our storage for an upstream.

    S3 storage      a pre-signed S3 PUT URL of the staging key (the upstream writes to the bucket)
    local storage   PUT {public_base_url}/upstream-uploads/{key}?token=... (a route of the gateway,
                    ``api/upload_routes.py``), the token an HMAC-signed, expiring grant for that key

Results are staged under ``upstream-results/<task>/<index>``; the collect step reads them from
there (as it would download them), stores the checked copy under ``results/`` and the staged blob
is removed.
"""

from __future__ import annotations

import time
import urllib.parse
from collections.abc import AsyncIterator, Callable

from imagine_gateway.core.errors import GatewayError, NotFound
from imagine_gateway.media.signing import sign_token, verify_token
from imagine_gateway.media.storage import S3Storage, Storage
from imagine_gateway.providers.base import Job, ProviderError

STAGING_PREFIX = "upstream-results/"
UPLOAD_ROUTE = "/upstream-uploads/"
_SCHEME = "storage:"
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


class StorageOutputTarget:
    """``OutputTarget`` into the gateway's storage (S3 pre-signed, or the gateway's upload route)."""

    def __init__(
        self,
        storage: Storage,
        *,
        public_base_url: str,
        secret: bytes,
        ttl_s: float,
        now_s: Callable[[], float] = time.time,
    ) -> None:
        self.storage = storage
        self.public_base_url = public_base_url.rstrip("/")
        self.secret = secret
        self.ttl_s = ttl_s
        self.now_s = now_s

    async def upload_urls(self, job: Job, count: int) -> list[str]:
        expires_at = int(self.now_s() + self.ttl_s)
        urls = []
        for index in range(count):
            key = staging_key(job.task_id, index)
            if isinstance(self.storage, S3Storage):
                urls.append(await self.storage.presign_put(key, expires_s=int(self.ttl_s)))
            else:
                token = upload_token(key, expires_at=expires_at, secret=self.secret)
                query = urllib.parse.urlencode({"token": token})
                urls.append(f"{self.public_base_url}{UPLOAD_ROUTE}{key}?{query}")
        return urls

    def asset_urls(self, job: Job, count: int) -> list[str]:
        return [_SCHEME + staging_key(job.task_id, index) for index in range(count)]

    def holds(self, url: str) -> bool:
        return url.startswith(_SCHEME + STAGING_PREFIX)

    async def open(self, url: str) -> AsyncIterator[bytes]:
        key = url[len(_SCHEME) :]
        if await self.storage.stat(key) is None:
            raise ProviderError(
                "The upstream reported the result done but has not uploaded it (yet).", retryable=True
            )
        async for chunk in self.storage.read_range(key, 0, None):
            yield chunk
        # Read whole: the collect step holds its own checked copy under results/ now.
        await self.storage.delete(key)
