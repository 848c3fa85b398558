"""Real result files for the mocks: rendered on first download, cached on disk, served with Range.

    GET /media/<job>.mp4        the video of a video job
    GET /media/<job>_<i>.png    image ``i`` (0-based) of an image job

A result exists only once its job finished successfully; anything else answers 404, as an expired
upstream URL would. References that are data URLs or loopback URLs are drawn into the result; other
hosts are never fetched, so a mock never reaches beyond the machine.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import math
import shutil
import struct
import tempfile
import weakref
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

import httpx

from imagine_gateway.media.dimensions import IMAGE_DIMENSIONS, image_size, video_size
from imagine_gateway.providers.sandbox import render_image, render_video
from imagine_gateway.testing.mock_upstreams.config import MockConfig

if TYPE_CHECKING:
    from imagine_gateway.testing.mock_upstreams.state import Job

_REFERENCE_TIMEOUT_S = 5.0  # xAI's own fetch timeout for image URLs
_REFERENCE_BYTES_MAX = 10 * 1024 * 1024
_LOOPBACK_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})
_IMAGE_PIXELS = 1024 * 1024
_FREE_BOX_HEADER_BYTES = 16


def video_path(base_url: str, job_id: str) -> str:
    return f"{base_url}/media/{job_id}.mp4"


def image_path(base_url: str, job_id: str, index: int) -> str:
    return f"{base_url}/media/{job_id}_{index}.png"


def parse_media_name(name: str) -> tuple[str, int | None] | None:
    """``("job", None)`` for ``job.mp4``, ``("job", i)`` for ``job_i.png``; None for anything else."""
    stem, dot, ext = name.rpartition(".")
    if not dot or not stem:
        return None
    if ext == "mp4":
        return stem, None
    job_id, underscore, index = stem.rpartition("_")
    if ext == "png" and underscore and job_id and index.isdigit():
        return job_id, int(index)
    return None


def video_dimensions(resolution: str, aspect_ratio: str) -> tuple[int, int]:
    """Render size for a video; 1080p is 720p scaled by 1.5, unknown values fall back to 480p 16:9."""
    ratio = aspect_ratio if ("480p", aspect_ratio) in _VIDEO_ASPECTS else "16:9"
    if resolution == "1080p":
        width, height = video_size("720p", ratio)
        return width * 3 // 2, height * 3 // 2
    return video_size(resolution if resolution in ("480p", "720p") else "480p", ratio)


def image_dimensions(aspect_ratio: str) -> tuple[int, int]:
    """Render size for an image: the shared table, else about one megapixel at that ratio (1:1 for auto)."""
    if aspect_ratio in IMAGE_DIMENSIONS:
        return image_size(aspect_ratio)
    try:
        wide, tall = (float(part) for part in aspect_ratio.split(":"))
        ratio = wide / tall
    except ValueError:
        return image_size("1:1")
    if not (math.isfinite(ratio) and ratio > 0):
        return image_size("1:1")
    width = max(16, round(math.sqrt(_IMAGE_PIXELS * ratio) / 16) * 16)
    height = max(16, round(math.sqrt(_IMAGE_PIXELS / ratio) / 16) * 16)
    return width, height


_VIDEO_ASPECTS = frozenset({("480p", a) for a in ("1:1", "16:9", "9:16", "4:3", "3:4", "3:2", "2:3")})


class MediaCache:
    """Renders each result once (in a thread) into a private temp dir, removed on ``close``."""

    def __init__(self, config: MockConfig) -> None:
        self._config = config
        self._dir = Path(tempfile.mkdtemp(prefix="imagine-mock-media-"))
        # finalize rather than TemporaryDirectory: no ResourceWarning when a test forgets close().
        self._cleanup = weakref.finalize(self, shutil.rmtree, self._dir, ignore_errors=True)
        self._done: dict[str, Path] = {}
        self._pending: dict[str, asyncio.Task[Path]] = {}

    async def video(self, job: Job) -> Path:
        if self._config.media_file is not None:
            return self._config.media_file
        name = f"{job.id}.mp4"
        if self._config.share_media:
            name = f"shared-{job.width}x{job.height}-{job.duration_s:g}s.mp4"
        return await self._once(name, lambda path: self._render_video(job, path))

    async def image(self, job: Job, index: int) -> Path:
        name = f"shared-{job.width}x{job.height}.png" if self._config.share_media else f"{job.id}_{index}.png"
        return await self._once(name, lambda path: self._render_image(job, index, path))

    def clear(self) -> None:
        """Forget every rendered file (the next download renders afresh)."""
        self._done.clear()
        self._pending.clear()
        for path in self._dir.iterdir():
            path.unlink(missing_ok=True)

    def close(self) -> None:
        self._cleanup()

    async def _once(self, name: str, render: Callable[[Path], Awaitable[None]]) -> Path:
        if (done := self._done.get(name)) is not None:
            return done
        task = self._pending.get(name)
        if task is None:
            task = asyncio.create_task(self._render_to(name, render))
            self._pending[name] = task
        try:
            # shield: a client hanging up must not cancel a render other downloads are waiting for.
            return await asyncio.shield(task)
        finally:
            if task.done():
                self._pending.pop(name, None)

    async def _render_to(self, name: str, render: Callable[[Path], Awaitable[None]]) -> Path:
        path = self._dir / name
        await render(path)
        self._done[name] = path
        return path

    async def _render_video(self, job: Job, path: Path) -> None:
        reference = await _first_reference(job.references)

        def render(reference: bytes | None) -> None:
            render_video(job.prompt, job.width, job.height, job.duration_s, path, reference=reference)

        await asyncio.to_thread(_with_fallback, render, reference)
        if self._config.media_bytes is not None:
            await asyncio.to_thread(_pad_mp4, path, self._config.media_bytes)

    async def _render_image(self, job: Job, index: int, path: Path) -> None:
        reference = await _first_reference(job.references)

        def render(reference: bytes | None) -> None:
            path.write_bytes(render_image(job.prompt, job.width, job.height, reference=reference, seed=index))

        await asyncio.to_thread(_with_fallback, render, reference)


def _with_fallback(render: Callable[[bytes | None], None], reference: bytes | None) -> None:
    """Render with the reference, or without it when it is not a readable image (as a client sent it)."""
    if reference is not None:
        try:
            render(reference)
            return
        except ValueError:
            pass
    render(None)


def _pad_mp4(path: Path, size_bytes: int) -> None:
    """Grow an MP4 to ``size_bytes`` with a trailing ``free`` box, which every demuxer skips."""
    current = path.stat().st_size
    padding = size_bytes - current
    if padding < _FREE_BOX_HEADER_BYTES:
        return
    with path.open("r+b") as file:
        file.seek(current)
        # size 1 = a 64-bit size follows, so the box may exceed 4 GiB.
        file.write(struct.pack(">I4sQ", 1, b"free", padding))
        file.truncate(size_bytes)  # zero-filled and sparse on disk


async def _first_reference(urls: tuple[str, ...]) -> bytes | None:
    for url in urls:
        data = await _fetch_reference(url)
        if data is not None:
            return data
    return None


async def _fetch_reference(url: str) -> bytes | None:
    """Bytes behind a data URL or a loopback http(s) URL; None when unavailable."""
    if url.startswith("data:"):
        _, comma, payload = url.partition(",")
        try:
            return base64.b64decode(payload, validate=True) if comma else None
        except (binascii.Error, ValueError):
            return None
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or parts.hostname not in _LOOPBACK_HOSTS:
        return None
    try:
        async with (
            httpx.AsyncClient(timeout=_REFERENCE_TIMEOUT_S) as client,
            client.stream("GET", url) as response,
        ):
            if response.status_code != 200:
                return None
            chunks: list[bytes] = []
            size = 0
            async for chunk in response.aiter_bytes():
                size += len(chunk)
                if size > _REFERENCE_BYTES_MAX:
                    return None
                chunks.append(chunk)
            return b"".join(chunks)
    except httpx.HTTPError:
        return None
