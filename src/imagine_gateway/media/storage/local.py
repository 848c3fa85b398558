"""Media on a local directory: the embedded default.

Layout under the root directory::

    results/task_abc/0.mp4               the blob itself (what ``local_path`` returns)
    .meta/results/task_abc/0.mp4.json    its content type, size and sha256, so ``stat`` reads no content
    .tmp/<random>                        puts in progress; renamed into place when complete

Writes go to ``.tmp`` first and are renamed into place (same filesystem, so the rename is atomic): a
reader sees the old blob or the new one, never a part. The data file is renamed before its metadata and
deleted after it, so a blob whose metadata exists is always complete. All file I/O runs in worker
threads, in chunks of about 1 MiB.

Crash safety rests on two fsyncs per blob, both before either rename: the data file's, so that a
rename that survives a crash cannot name an empty or partial file, and the metadata file's, so that
metadata that survives cannot be empty (a delayed-allocation filesystem may persist a new file's name
before its content; ``stat`` would then fail on it, for a blob that is really there). Neither can be
dropped without losing that guarantee, so a put saves thread hops and directory look-ups instead: a
put that fits in one chunk is one thread call (create, write, fsync, metadata, renames), a larger one
writes its last chunk, fsyncs and commits in the call of that last write, and directories are created
only when a rename or open finds them missing. The renames themselves are not fsynced (nor were they
before): a crash may lose a put's very last moments, never leave a torn blob behind its metadata.
A large put also ``fdatasync``s every ``SYNC_EVERY_BYTES`` as it goes, so the fsync before the rename
waits for the tail only, not for the whole file to reach the disk (docs/benchmarks.md).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import pathlib
import secrets
import shutil
from collections.abc import AsyncIterator
from typing import IO, Any

from anyio import to_thread

from imagine_gateway.core.errors import NotFound
from imagine_gateway.media.storage.base import (
    CHUNK_BYTES,
    StoredBlob,
    etag_for,
    storage_failure,
    too_large,
    validate_key,
)

SYNC_EVERY_BYTES = 8 * 1024 * 1024
_META_DIR = ".meta"
_TMP_DIR = ".tmp"


class _PendingFile:
    """A temp file being written; blocking methods, called from a worker thread.

    Nothing touches the disk until the first ``write`` (or ``finish``), so creating one on the event
    loop is free, and ``discard`` is safe at any point.
    """

    def __init__(self, tmp_dir: pathlib.Path) -> None:
        self.path = tmp_dir / secrets.token_hex(16)
        self._file: IO[bytes] | None = None
        self.sha256 = hashlib.sha256()
        self.size_bytes = 0
        self._unsynced = 0

    def write(self, data: bytes) -> None:
        if self._file is None:
            self._file = _create(self.path, "xb")
        self.sha256.update(data)
        self._file.write(data)
        self.size_bytes += len(data)
        self._unsynced += len(data)
        if self._unsynced >= SYNC_EVERY_BYTES:
            # Flush to disk while the download goes on (it reads ahead), so the fsync that must
            # come before the rename has only the tail left: a large put no longer ends waiting for
            # all of its bytes to reach the disk at once.
            self._file.flush()
            os.fdatasync(self._file.fileno())
            self._unsynced = 0

    def finish(self) -> None:
        if self._file is None:
            self._file = _create(self.path, "xb")
        self._file.flush()
        # fsync before the rename, or a crash could leave a complete-looking but empty file
        os.fsync(self._file.fileno())
        self._file.close()

    def discard(self) -> None:
        # Also on a full or read-only disk, where closing or removing may fail in turn: what cannot
        # be removed now is left to the sweeper (``remove_stale_temp``).
        with contextlib.suppress(OSError):
            if self._file is not None:
                self._file.close()
        with contextlib.suppress(OSError):
            self.path.unlink(missing_ok=True)


def _create(path: pathlib.Path, mode: str) -> IO[Any]:
    """``path.open(mode)``, creating its directory only when it is missing (one syscall, not three)."""
    try:
        return path.open(mode)
    except FileNotFoundError:
        path.parent.mkdir(parents=True, exist_ok=True)
        return path.open(mode)


def _rename(source: pathlib.Path, target: pathlib.Path) -> None:
    """``os.replace``, creating the target's directory only when it is missing."""
    try:
        os.replace(source, target)
    except FileNotFoundError:
        target.parent.mkdir(parents=True, exist_ok=True)
        os.replace(source, target)


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

    def blob_path(self, key: str) -> pathlib.Path:
        """The file a blob under ``key`` is kept in, whether or not there is one (no I/O)."""
        return self._data_path(key)

    async def put_stream(
        self, key: str, chunks: AsyncIterator[bytes], *, content_type: str, max_bytes: int
    ) -> StoredBlob:
        """Stream ``chunks`` into a temp file, then rename it into place (see ``Storage``).

        One thread call per ~1 MiB written; the last one also fsyncs and commits.
        """
        validate_key(key)
        pending = _PendingFile(self.root / _TMP_DIR)
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
            return await to_thread.run_sync(self._write_and_commit, key, pending, bytes(buffer), content_type)
        except OSError as exc:
            pending.discard()
            raise storage_failure(exc, "storing media") from exc
        except BaseException:
            # synchronous on purpose: it must also run when the task is being cancelled (anyio's
            # run_sync waits for its thread even then, so no thread is still writing the file)
            pending.discard()
            raise

    async def put_bytes(self, key: str, data: bytes, *, content_type: str) -> StoredBlob:
        """Store ``data`` under ``key`` (temp file and rename, like ``put_stream``), in one thread call."""
        validate_key(key)
        pending = _PendingFile(self.root / _TMP_DIR)
        try:
            return await to_thread.run_sync(self._write_and_commit, key, pending, data, content_type)
        except OSError as exc:
            pending.discard()
            raise storage_failure(exc, "storing media") from exc
        except BaseException:
            pending.discard()
            raise

    def _write_and_commit(
        self, key: str, pending: _PendingFile, data: bytes, content_type: str
    ) -> StoredBlob:
        for offset in range(0, len(data), CHUNK_BYTES):
            pending.write(data[offset : offset + CHUNK_BYTES])
        pending.finish()
        return self._commit(key, pending, content_type)

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
            _rename(pending.path, self._data_path(key))
            _rename(meta_tmp, self._meta_path(key))
        except BaseException:
            meta_tmp.unlink(missing_ok=True)
            raise
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

    async def remove_stale_temp(self, *, older_than_ms: int) -> int:
        """Remove temp files (puts that never finished: a crash, a full disk) last written before
        ``older_than_ms`` (epoch ms); how many were removed."""
        return await to_thread.run_sync(remove_old_files, self.root / _TMP_DIR, older_than_ms)

    async def groups(self, prefix: str) -> list[str]:
        """The directories directly under ``prefix`` (under "results": one per task)."""
        base = self.root / validate_key(prefix)

        def names() -> list[str]:
            try:
                return sorted(entry.name for entry in os.scandir(base) if entry.is_dir())
            except FileNotFoundError:
                return []

        return await to_thread.run_sync(names)

    async def group_changed_ms(self, prefix: str) -> int | None:
        """When the directory of blobs under ``prefix`` last changed (epoch ms), or None."""
        path = self.root / validate_key(prefix)
        try:
            stat = await to_thread.run_sync(path.stat)
        except FileNotFoundError:
            return None
        return stat.st_mtime_ns // 1_000_000

    async def delete_group(self, prefix: str) -> None:
        """Remove every blob under ``prefix`` and its metadata (a task's results)."""
        data, meta = self.root / validate_key(prefix), self.root / _META_DIR / validate_key(prefix)

        def remove() -> None:
            shutil.rmtree(meta, ignore_errors=True)
            shutil.rmtree(data, ignore_errors=True)

        await to_thread.run_sync(remove)

    async def local_path(self, key: str) -> pathlib.Path | None:
        """The blob's file, if the blob exists."""
        return self._data_path(key) if await self.stat(key) is not None else None

    async def presigned_get_url(
        self,
        key: str,
        *,
        expires_in_s: int,
        content_type: str,
        content_disposition: str | None,
        cache_control: str,
    ) -> str | None:
        """Files have no URL of their own: the gateway serves them."""
        return None

    async def aclose(self) -> None:
        """Nothing to release."""


def remove_old_files(directory: pathlib.Path, older_than_ms: int, prefix: str = "") -> int:
    """Remove the plain files in ``directory`` whose names start with ``prefix``, last modified
    before ``older_than_ms`` (epoch ms); how many."""
    removed = 0
    try:
        entries = list(os.scandir(directory))
    except FileNotFoundError:
        return 0
    for entry in entries:
        with contextlib.suppress(FileNotFoundError):
            if (
                entry.name.startswith(prefix)
                and entry.is_file(follow_symlinks=False)
                and entry.stat().st_mtime_ns // 1_000_000 < older_than_ms
            ):
                os.unlink(entry.path)
                removed += 1
    return removed
