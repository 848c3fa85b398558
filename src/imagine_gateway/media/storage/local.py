"""Media on a local directory: the embedded default.

Layout under the root directory::

    results/task_abc/0.mp4               the blob itself (what ``local_path`` returns)
    .meta/results/task_abc/0.mp4.json    its content type, size and sha256, so ``stat`` reads no content
    .tmp/<random>                        puts in progress; renamed into place when complete

Writes go to ``.tmp`` first and are renamed into place (same filesystem, so the rename is atomic): a
reader sees the old blob or the new one, never a part. The data file is renamed before its metadata and
deleted after it, so a blob whose metadata exists is always complete. All file I/O runs in worker
threads, in chunks of about 1 MiB.
"""

from __future__ import annotations

import hashlib
import json
import os
import pathlib
import secrets
from collections.abc import AsyncIterator
from typing import IO

from anyio import to_thread

from imagine_gateway.core.errors import NotFound
from imagine_gateway.media.storage.base import CHUNK_BYTES, StoredBlob, etag_for, too_large, validate_key

_META_DIR = ".meta"
_TMP_DIR = ".tmp"


class _PendingFile:
    """A temp file being written; blocking methods, called from a worker thread."""

    def __init__(self, tmp_dir: pathlib.Path) -> None:
        tmp_dir.mkdir(parents=True, exist_ok=True)
        self.path = tmp_dir / secrets.token_hex(16)
        self._file: IO[bytes] = self.path.open("xb")
        self.sha256 = hashlib.sha256()
        self.size_bytes = 0

    def write(self, data: bytes) -> None:
        self.sha256.update(data)
        self._file.write(data)
        self.size_bytes += len(data)

    def finish(self) -> None:
        self._file.flush()
        # fsync before the rename, or a crash could leave a complete-looking but empty file
        os.fsync(self._file.fileno())
        self._file.close()

    def discard(self) -> None:
        self._file.close()
        self.path.unlink(missing_ok=True)


class LocalStorage:
    """Blobs as files under ``root``; see the module docstring for the layout."""

    def __init__(self, root: pathlib.Path) -> None:
        if not root.is_absolute():
            raise ValueError(f"local storage root {str(root)!r} is not an absolute path")
        self.root = root

    def __repr__(self) -> str:
        return f"LocalStorage({str(self.root)!r})"

    def _data_path(self, key: str) -> pathlib.Path:
        return self.root / validate_key(key)

    def _meta_path(self, key: str) -> pathlib.Path:
        return self.root / _META_DIR / (validate_key(key) + ".json")

    async def put_stream(
        self, key: str, chunks: AsyncIterator[bytes], *, content_type: str, max_bytes: int
    ) -> StoredBlob:
        """Stream ``chunks`` into a temp file, then rename it into place (see ``Storage``)."""
        validate_key(key)
        pending = await to_thread.run_sync(_PendingFile, self.root / _TMP_DIR)
        try:
            received = 0
            buffer = bytearray()
            async for chunk in chunks:
                received += len(chunk)
                if received > max_bytes:
                    raise too_large(max_bytes)
                buffer += chunk
                if len(buffer) >= CHUNK_BYTES:
                    await to_thread.run_sync(pending.write, bytes(buffer))
                    buffer.clear()
            if buffer:
                await to_thread.run_sync(pending.write, bytes(buffer))
            await to_thread.run_sync(pending.finish)
            return await to_thread.run_sync(self._commit, key, pending, content_type)
        except BaseException:
            # synchronous on purpose: it must also run when the task is being cancelled
            pending.discard()
            raise

    async def put_bytes(self, key: str, data: bytes, *, content_type: str) -> StoredBlob:
        """Store ``data`` under ``key`` (temp file and rename, like ``put_stream``)."""
        validate_key(key)

        def write_all() -> StoredBlob:
            pending = _PendingFile(self.root / _TMP_DIR)
            try:
                for offset in range(0, len(data), CHUNK_BYTES):
                    pending.write(data[offset : offset + CHUNK_BYTES])
                pending.finish()
                return self._commit(key, pending, content_type)
            except BaseException:
                pending.discard()
                raise

        return await to_thread.run_sync(write_all)

    def _commit(self, key: str, pending: _PendingFile, content_type: str) -> StoredBlob:
        blob = StoredBlob(
            key=key,
            size_bytes=pending.size_bytes,
            sha256=pending.sha256.hexdigest(),
            content_type=content_type,
            etag=etag_for(pending.sha256.hexdigest()),
        )
        meta = {"content_type": content_type, "size_bytes": blob.size_bytes, "sha256": blob.sha256}
        meta_tmp = pending.path.with_name(pending.path.name + ".json")
        try:
            with meta_tmp.open("x", encoding="utf-8") as f:
                json.dump(meta, f)
                f.flush()
                os.fsync(f.fileno())
            data_path, meta_path = self._data_path(key), self._meta_path(key)
            data_path.parent.mkdir(parents=True, exist_ok=True)
            meta_path.parent.mkdir(parents=True, exist_ok=True)
            os.replace(pending.path, data_path)
            os.replace(meta_tmp, meta_path)
        finally:
            meta_tmp.unlink(missing_ok=True)
        return blob

    async def stat(self, key: str) -> StoredBlob | None:
        """Read the blob's metadata file; ``None`` if there is none."""
        meta_path = self._meta_path(key)

        def read_meta() -> StoredBlob | None:
            try:
                meta = json.loads(meta_path.read_text(encoding="utf-8"))
            except FileNotFoundError:
                return None
            return StoredBlob(
                key=key,
                size_bytes=int(meta["size_bytes"]),
                sha256=str(meta["sha256"]),
                content_type=str(meta["content_type"]),
                etag=etag_for(str(meta["sha256"])),
            )

        return await to_thread.run_sync(read_meta)

    async def read_range(self, key: str, start: int, end_inclusive: int | None) -> AsyncIterator[bytes]:
        """Yield the requested bytes in chunks of up to 1 MiB (see ``Storage``)."""
        if start < 0 or (end_inclusive is not None and end_inclusive < start):
            raise ValueError(f"bad byte range {start}-{end_inclusive}")
        path = self._data_path(key)

        def open_at_start() -> IO[bytes]:
            f = path.open("rb")
            f.seek(start)
            return f

        try:
            f = await to_thread.run_sync(open_at_start)
        except FileNotFoundError as exc:
            raise NotFound(f"no media stored under {key!r}") from exc
        try:
            remaining = None if end_inclusive is None else end_inclusive - start + 1
            while remaining is None or remaining > 0:
                want = CHUNK_BYTES if remaining is None else min(CHUNK_BYTES, remaining)
                chunk = await to_thread.run_sync(f.read, want)
                if not chunk:
                    break
                if remaining is not None:
                    remaining -= len(chunk)
                yield chunk
        finally:
            f.close()

    async def delete(self, key: str) -> None:
        """Remove the metadata, then the data; missing files are fine."""
        meta_path, data_path = self._meta_path(key), self._data_path(key)

        def remove() -> None:
            meta_path.unlink(missing_ok=True)
            data_path.unlink(missing_ok=True)

        await to_thread.run_sync(remove)

    async def local_path(self, key: str) -> pathlib.Path | None:
        """The blob's file, if the blob exists."""
        return self._data_path(key) if await self.stat(key) is not None else None

    async def aclose(self) -> None:
        """Nothing to release."""
