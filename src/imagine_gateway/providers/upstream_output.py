"""Bring-your-own-storage: where an upstream PUTs a result instead of keeping it (the provider side).

xAI's ``output.upload_url`` (videos) / ``output.upload_urls`` (images, one per image) name URLs that
xAI PUTs the finished file to. Teams with zero data retention must send one for every video; for
everyone else it removes the race against xAI's expiring result URLs. The provider asks an
``OutputTarget`` for the URLs at submit, and reads the results back through it at collect.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Protocol

from imagine_gateway.providers.base import Job


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
