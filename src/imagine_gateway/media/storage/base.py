"""The storage interface every media backend implements, and the rules for keys.

A key is a relative, ``/``-separated name such as ``results/task_abc/0.mp4``. Backends keep their own
bookkeeping (temporary files, metadata) under names that start with a dot, which is why no segment of a
key may start with one.
"""

from __future__ import annotations

import contextlib
import errno
import pathlib
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from typing import Protocol

from imagine_gateway.core.errors import PayloadTooLarge, StorageFull, StorageUnavailable

CHUNK_BYTES = 1024 * 1024
"""Size of the reads and writes backends do in a worker thread."""

MAX_KEY_CHARS = 512


@dataclass(frozen=True)
class StoredBlob:
    """What a backend knows about one stored blob."""

    key: str
    size_bytes: int
    sha256: str
    """Hex digest of the content."""
    content_type: str
    etag: str
    """Strong ETag value, without the quotes."""


def etag_for(sha256_hex: str) -> str:
    """The strong ETag of content with this digest: identical bytes give identical ETags on any backend."""
    return sha256_hex


def validate_key(key: str) -> str:
    """Return ``key`` if it is a safe relative key, else raise ``ValueError`` saying why.

    Rejected: empty keys, absolute paths, backslashes, control characters, empty segments (``a//b``,
    trailing ``/``) and segments starting with a dot (which covers ``.`` and ``..``).
    """
    if not key:
        raise ValueError("storage key is empty")
    if len(key) > MAX_KEY_CHARS:
        raise ValueError(f"storage key is longer than {MAX_KEY_CHARS} characters")
    if key.startswith("/"):
        raise ValueError(f"storage key {key!r} is absolute")
    if "\\" in key:
        raise ValueError(f"storage key {key!r} contains a backslash")
    if any(ord(ch) < 0x20 or ord(ch) == 0x7F for ch in key):
        raise ValueError(f"storage key {key!r} contains a control character")
    for segment in key.split("/"):
        if not segment:
            raise ValueError(f"storage key {key!r} has an empty segment")
        if segment.startswith("."):
            raise ValueError(f"storage key {key!r} has a segment starting with '.'")
    return key


def too_large(max_bytes: int) -> PayloadTooLarge:
    """The error a streaming put raises once more than ``max_bytes`` arrived."""
    return PayloadTooLarge(f"content is larger than the limit of {max_bytes} bytes")


_FULL = frozenset({errno.ENOSPC, errno.EDQUOT})
_CAUSES = {
    errno.ENOSPC: "the disk is full",
    errno.EDQUOT: "the disk quota is used up",
    errno.EROFS: "the file system is read-only",
    errno.EACCES: "the gateway may not write there",
    errno.EPERM: "the gateway may not write there",
    errno.EIO: "the disk reported an I/O error",
}


def storage_failure(exc: OSError, doing: str) -> StorageUnavailable:
    """The client-facing error for an ``OSError`` while ``doing`` a write (e.g. "storing the upload").

    Full disks and quotas are a 507, everything else (read-only, permissions, I/O) a 503; both are
    ``storage_unavailable`` and name the cause.
    """
    cause = _CAUSES.get(exc.errno or 0, exc.strerror or type(exc).__name__)
    message = f"The gateway could not finish {doing}: {cause}. Try again later."
    return StorageFull(message) if exc.errno in _FULL else StorageUnavailable(message)


@contextlib.contextmanager
def storage_errors(doing: str) -> Iterator[None]:
    """Raise ``storage_failure`` for any ``OSError`` inside the block."""
    try:
        yield
    except OSError as exc:
        raise storage_failure(exc, doing) from exc


class Storage(Protocol):
    """A place to keep media blobs by key. Every method may be called concurrently."""

    async def put_stream(
        self, key: str, chunks: AsyncIterator[bytes], *, content_type: str, max_bytes: int
    ) -> StoredBlob:
        """Store ``chunks`` under ``key`` without holding them all in memory.

        Raises ``PayloadTooLarge`` as soon as more than ``max_bytes`` arrived; then, as on any other
        failure, nothing of this put is left behind and an earlier blob under ``key`` is untouched.
        The blob appears whole or not at all.
        """
        ...

    async def put_bytes(self, key: str, data: bytes, *, content_type: str) -> StoredBlob:
        """Store ``data`` under ``key``, replacing any earlier blob."""
        ...

    async def stat(self, key: str) -> StoredBlob | None:
        """What is stored under ``key``, or ``None``."""
        ...

    def read_range(self, key: str, start: int, end_inclusive: int | None) -> AsyncIterator[bytes]:
        """Yield the bytes ``start..end_inclusive`` (to the end when ``None``) in chunks.

        An async generator: ``async for chunk in storage.read_range(key, 0, None)``. An end beyond the
        blob is clamped to its last byte. Raises ``NotFound`` (when iterated) if there is no blob.
        """
        ...

    async def delete(self, key: str) -> None:
        """Remove the blob under ``key``; removing a missing blob is not an error."""
        ...

    async def local_path(self, key: str) -> pathlib.Path | None:
        """The blob's file on this machine (local backend, existing blob), else ``None``."""
        ...

    async def presigned_get_url(
        self,
        key: str,
        *,
        expires_in_s: int,
        content_type: str,
        content_disposition: str | None,
        cache_control: str,
    ) -> str | None:
        """A URL that GETs the blob straight from the backend for ``expires_in_s``, else ``None``.

        The backend answers that URL with ``content_type``, ``cache_control`` and, when given,
        ``content_disposition``. ``None`` when the backend has no such URLs (the local directory):
        then the gateway serves the bytes itself. Signing is local: no request is made, and whether
        the blob exists is not checked.
        """
        ...

    async def aclose(self) -> None:
        """Release connections and threads the backend holds."""
        ...
