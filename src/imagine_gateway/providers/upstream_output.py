"""Bring-your-own-storage: where an upstream PUTs a result instead of keeping it (the provider side).

xAI's ``output.upload_url`` (videos) / ``output.upload_urls`` (images, one per image) name URLs that
xAI PUTs the finished file to. Teams with zero data retention must send one for every video; for
everyone else it removes the race against xAI's expiring result URLs. The provider asks an
``OutputTarget`` for the URLs at submit, and reads the results back through it at collect.
"""

from __future__ import annotations

import time
import urllib.parse
from collections.abc import AsyncIterator, Callable
from typing import Protocol

from imagine_gateway.media.storage import S3Storage, Storage
from imagine_gateway.media.upstream_uploads import STAGING_PREFIX, UPLOAD_ROUTE, staging_key, upload_token
from imagine_gateway.providers.base import Job, ProviderError

# An asset address naming a staged blob in our own storage, not a URL anyone can fetch.
_SCHEME = "storage:"


class OutputTarget(Protocol):
    """Pre-signed upload URLs into the gateway's own storage, and reading what arrived there."""

    async def upload_urls(self, job: Job, count: int) -> list[str]:
        """``count`` URLs the upstream may PUT this job's results to (stable per job and index)."""
        ...

    def asset_urls(self, job: Job, count: int) -> list[str]:
        """The results' addresses as assets (``holds`` is true for them)."""
        ...

    def holds(self, url: str) -> bool:
        """True when ``url`` is one of this target's asset addresses."""
        ...

    def open(self, url: str) -> AsyncIterator[bytes]:
        """The bytes the upstream uploaded; a ``ProviderError`` (retryable) while nothing arrived."""
        ...


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
