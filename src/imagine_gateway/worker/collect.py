"""Collect: stream an upstream result into our storage, check and probe it.

Clients only ever get our URLs; the upstream's (expiring) URL stays on the task for audit.
"""

from __future__ import annotations

import asyncio
import contextlib
import secrets
import tempfile
from collections import deque
from collections.abc import AsyncGenerator, AsyncIterator
from pathlib import Path
from typing import BinaryIO

from anyio import to_thread

from imagine_gateway.core.errors import GatewayError, PayloadTooLarge, StorageUnavailable
from imagine_gateway.core.results import StoredAsset
from imagine_gateway.media.probe import probe_with_poster
from imagine_gateway.media.sniff import ALLOWED_MIME, SNIFF_BYTES, extension_for, kind_of, sniff_mime
from imagine_gateway.media.storage import LocalStorage, Storage, StoredBlob
from imagine_gateway.providers.base import Job, Provider, ProviderError, ResultAsset

CHUNK_BYTES = 1 << 20
PREFETCH_BYTES = 4 << 20
"""How far the download may run ahead of storage writes."""


class CollectError(Exception):
    """The result could not be taken in; ``retryable`` when another try may succeed."""

    def __init__(self, message: str, *, retryable: bool) -> None:
        super().__init__(message)
        self.retryable = retryable


async def collect_asset(
    storage: Storage,
    provider: Provider,
    job: Job,
    asset: ResultAsset,
    index: int,
    *,
    max_bytes: int,
    work_dir: Path | None = None,
) -> StoredAsset:
    """Store one asset under ``results/<task>/<index>.<ext>`` and describe it.

    One pass over the bytes: the type is sniffed from the first ones, which names the key, and the
    rest streams straight into storage (which hashes it). Probing needs a local file: the local
    backend's own file, else a work file in ``work_dir`` written beside the upload. A result that
    fails the probe is deleted again. Raises ``CollectError`` (``retryable`` for transport failures).
    """
    source = _guarded(provider.open_result(asset, job), max_bytes=max_bytes)
    chunks = _prefetch(source, max_ahead_bytes=PREFETCH_BYTES)
    work_file: _WorkFile | None = None
    try:
        head = await _peek(chunks, SNIFF_BYTES)
        mime = _accepted(head, asset)
        key = f"results/{job.task_id}/{index}.{extension_for(mime)}"
        copy: BinaryIO | None = None
        if isinstance(storage, LocalStorage):
            # The blob's own file: no copy, and no look-up (the put below either stores it or raises).
            path = storage.blob_path(key)
        else:
            work_file = _WorkFile(work_dir)
            # anyio's, not asyncio's: on cancellation it waits for the thread, so ``remove`` below
            # never runs before the file exists
            copy = await to_thread.run_sync(work_file.open)
            path = work_file.path
        tee = _tee(head, chunks, copy)
        try:
            blob = await _put(storage, key, tee, mime, max_bytes)
        finally:
            await tee.aclose()
        try:
            # One thread hop, one open and one decode for the checks and the poster frame.
            info, poster = await asyncio.to_thread(
                probe_with_poster, path, expected_kind=asset.kind, field="result"
            )
        except GatewayError as exc:
            await storage.delete(key)
            raise CollectError(
                f"The upstream's result is not a valid {asset.kind}: {exc.message}", retryable=False
            ) from exc
    finally:
        await chunks.aclose()
        await source.aclose()
        if work_file is not None:
            work_file.remove()
    poster_key = None
    if poster is not None:
        poster_key = f"results/{job.task_id}/{index}.poster.jpg"
        try:
            await storage.put_bytes(poster_key, poster, content_type="image/jpeg")
        except (StorageUnavailable, OSError) as exc:
            # The result without its poster is no result: neither is left behind.
            await storage.delete(key)
            raise CollectError(f"Storing the poster frame failed: {exc}", retryable=True) from exc
    return StoredAsset(
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


class _WorkFile:
    """A copy of the result for the probe, when the storage has no file of its own."""

    def __init__(self, work_dir: Path | None) -> None:
        self.path = Path(work_dir or tempfile.gettempdir()) / f"collect-{secrets.token_hex(16)}"
        self._handle: BinaryIO | None = None

    def open(self) -> BinaryIO:
        """Create the file (blocking); ``remove`` closes the handle returned."""
        self._handle = self.path.open("xb")
        return self._handle

    def remove(self) -> None:
        if self._handle is not None:
            self._handle.close()
        self.path.unlink(missing_ok=True)


def _accepted(head: bytes, asset: ResultAsset) -> str:
    """The sniffed type of a result, if it is an accepted type of the asset's kind."""
    mime = sniff_mime(head)
    detected = kind_of(mime) if mime is not None else None
    if mime is None or detected is None or detected != asset.kind or mime not in ALLOWED_MIME[detected]:
        raise CollectError(
            f"The upstream's result is not a valid {asset.kind}: detected {mime or 'an unknown type'}.",
            retryable=False,
        )
    return mime


async def _put(
    storage: Storage, key: str, chunks: AsyncIterator[bytes], mime: str, max_bytes: int
) -> StoredBlob:
    try:
        return await storage.put_stream(key, chunks, content_type=mime, max_bytes=max_bytes)
    except PayloadTooLarge as exc:
        raise CollectError(f"The result is larger than {max_bytes} bytes.", retryable=False) from exc
    except (StorageUnavailable, OSError) as exc:
        raise CollectError(f"Storing the result failed: {exc}", retryable=True) from exc


async def _guarded(chunks: AsyncIterator[bytes], *, max_bytes: int) -> AsyncGenerator[bytes, None]:
    """The provider's stream with its failures as ``CollectError`` and its size bounded."""
    size = 0
    try:
        async for chunk in chunks:
            size += len(chunk)
            if size > max_bytes:
                raise CollectError(f"The result is larger than {max_bytes} bytes.", retryable=False)
            yield chunk
    except ProviderError as exc:
        raise CollectError(f"Downloading the result failed: {exc.message}", retryable=exc.retryable) from exc
    except OSError as exc:
        raise CollectError(f"Downloading the result failed: {exc}", retryable=True) from exc
    finally:
        await _close(chunks)


async def _prefetch(chunks: AsyncIterator[bytes], *, max_ahead_bytes: int) -> AsyncGenerator[bytes, None]:
    """``chunks``, read ahead by a task while the consumer is busy (hashing and writing in a thread).

    Without it the download pauses during every write; with it, network and disk overlap. At most
    ``max_ahead_bytes`` (plus one chunk) wait in memory. The reader's exception reaches the consumer
    after the chunks read before it.
    """
    queue: deque[bytes] = deque()
    ahead = 0
    finished = False
    arrived, room = asyncio.Event(), asyncio.Event()

    async def pump() -> None:
        nonlocal ahead, finished
        try:
            async for chunk in chunks:
                while ahead >= max_ahead_bytes:
                    room.clear()
                    await room.wait()
                queue.append(chunk)
                ahead += len(chunk)
                arrived.set()
        finally:
            finished = True
            arrived.set()

    reader = asyncio.create_task(pump())
    try:
        while True:
            if queue:
                chunk = queue.popleft()
                ahead -= len(chunk)
                room.set()
                yield chunk
            elif finished:
                await reader  # raises what the reader raised
                return
            else:
                arrived.clear()
                await arrived.wait()
    finally:
        reader.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await reader


async def _peek(chunks: AsyncIterator[bytes], want: int) -> bytes:
    """At least ``want`` leading bytes (fewer only at the end); ``chunks`` goes on after them."""
    head = bytearray()
    async for chunk in chunks:
        head += chunk
        if len(head) >= want:
            break
    if not head:
        raise CollectError("The upstream's result was empty.", retryable=True)
    return bytes(head)


async def _tee(head: bytes, rest: AsyncIterator[bytes], copy: BinaryIO | None) -> AsyncGenerator[bytes, None]:
    """``head`` then ``rest``; also written to ``copy`` (in ~1 MiB writes off the event loop) when given.

    At the end ``copy`` is flushed, so the file holds everything for the probe.
    """
    if copy is None:
        yield head
        async for chunk in rest:
            yield chunk
        return
    pending = bytearray(head)
    yield head
    async for chunk in rest:
        pending += chunk
        if len(pending) >= CHUNK_BYTES:
            await asyncio.to_thread(copy.write, bytes(pending))
            pending.clear()
        yield chunk
    await asyncio.to_thread(_write_all, copy, bytes(pending))


def _write_all(handle: BinaryIO, data: bytes) -> None:
    handle.write(data)
    handle.flush()


async def _close(chunks: AsyncIterator[bytes]) -> None:
    aclose = getattr(chunks, "aclose", None)
    if aclose is not None:
        await aclose()
