"""Collect: stream an upstream result into our storage, check and probe it.

Clients only ever get our URLs; the upstream's (expiring) URL stays on the task for audit.
"""

from __future__ import annotations

import asyncio
import tempfile
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from imagine_gateway.core.errors import GatewayError
from imagine_gateway.media.probe import MediaInfo, poster_jpeg, probe_file
from imagine_gateway.media.storage import Storage
from imagine_gateway.providers.base import Job, Provider, ProviderError, ResultAsset

EXTENSIONS = {
    "image/png": "png",
    "image/jpeg": "jpg",
    "image/webp": "webp",
    "video/mp4": "mp4",
    "video/quicktime": "mov",
    "video/webm": "webm",
}
CHUNK_BYTES = 1 << 20


class CollectError(Exception):
    """The result could not be taken in; ``retryable`` when another try may succeed."""

    def __init__(self, message: str, *, retryable: bool) -> None:
        super().__init__(message)
        self.retryable = retryable


@dataclass(frozen=True)
class CollectedAsset:
    key: str
    kind: str
    mime_type: str
    size_bytes: int
    sha256: str
    width: int | None
    height: int | None
    duration_s: float | None
    poster_key: str | None

    def as_dict(self) -> dict[str, Any]:
        return {
            "key": self.key,
            "kind": self.kind,
            "mime_type": self.mime_type,
            "size_bytes": self.size_bytes,
            "sha256": self.sha256,
            "width": self.width,
            "height": self.height,
            "duration_seconds": self.duration_s,
            "poster_key": self.poster_key,
        }


async def collect_asset(
    storage: Storage,
    provider: Provider,
    job: Job,
    asset: ResultAsset,
    index: int,
    *,
    max_bytes: int,
    work_dir: Path | None = None,
) -> CollectedAsset:
    """Store one asset under ``results/<task>/<index>.<ext>`` and describe it."""
    with tempfile.TemporaryDirectory(dir=work_dir) as tmp:
        staged = Path(tmp) / "asset"
        await _download(provider.open_result(asset, job), staged, max_bytes=max_bytes)
        try:
            info: MediaInfo = await asyncio.to_thread(
                probe_file,
                staged,
                expected_kind=asset.kind,  # type: ignore[arg-type]
                field="result",
            )
        except GatewayError as exc:
            raise CollectError(
                f"The upstream's result is not a valid {asset.kind}: {exc.message}", retryable=False
            ) from exc
        ext = EXTENSIONS.get(info.mime_type, "bin")
        key = f"results/{job.task_id}/{index}.{ext}"
        blob = await storage.put_stream(
            key, _read_file(staged), content_type=info.mime_type, max_bytes=max_bytes
        )
        poster_key = None
        if info.kind == "video":
            poster = await asyncio.to_thread(poster_jpeg, staged)
            poster_key = f"results/{job.task_id}/{index}.poster.jpg"
            await storage.put_bytes(poster_key, poster, content_type="image/jpeg")
    return CollectedAsset(
        key=key,
        kind=info.kind,
        mime_type=info.mime_type,
        size_bytes=blob.size_bytes,
        sha256=blob.sha256,
        width=info.width,
        height=info.height,
        duration_s=info.duration_s,
        poster_key=poster_key,
    )


async def _download(chunks: AsyncIterator[bytes], path: Path, *, max_bytes: int) -> None:
    size = 0
    try:
        with path.open("wb") as fh:
            async for chunk in chunks:
                size += len(chunk)
                if size > max_bytes:
                    raise CollectError(f"The result is larger than {max_bytes} bytes.", retryable=False)
                await asyncio.to_thread(fh.write, chunk)
    except ProviderError as exc:
        raise CollectError(f"Downloading the result failed: {exc.message}", retryable=exc.retryable) from exc
    except OSError as exc:
        raise CollectError(f"Downloading the result failed: {exc}", retryable=True) from exc
    if size == 0:
        raise CollectError("The upstream's result was empty.", retryable=True)


async def _read_file(path: Path) -> AsyncIterator[bytes]:
    with path.open("rb") as fh:
        while chunk := await asyncio.to_thread(fh.read, CHUNK_BYTES):
            yield chunk
