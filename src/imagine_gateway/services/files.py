"""The Files API: store uploads, describe them, and vouch for their durations.

Public surface (used by ``api/v1/files.py`` and by dialects that accept multipart references)::

    service = FileService(db=db, storage=storage, catalog=catalog, clock=clock, settings=settings)
    record: FileRecord = await service.save(
        principal, stream=chunks, filename="cat.png", kind="image", model=None, client_request_id=None,
    )
    service.public_url(record)      # "{public_base_url}/media/uploads/<id>.png?exp=...&sig=..."
    service.file_view(record)       # the JSON object GET /api/v1/files/{id} returns
    await service.get(principal, file_id)

``save`` validates the form fields first, then receives ``stream`` into a temp file with a running
size check (cut off at the limit, never held whole in memory), rejects a type that disagrees with
``kind`` from the first bytes, fully decodes or probes the file, streams it into storage and inserts
its row. Errors: ``ValidationFailed`` (field ``file``, ``kind``, ``model`` or ``client_request_id``),
``PayloadTooLarge``. A rejected file leaves no blob and no row behind.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import pathlib
import secrets
from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import IO, Any

from imagine_gateway.catalog.contract import ModelContract
from imagine_gateway.catalog.loader import Catalog
from imagine_gateway.catalog.validation import CLIENT_REQUEST_ID_MAX
from imagine_gateway.core.clock import Clock
from imagine_gateway.core.errors import (
    NotFound,
    SignatureInvalid,
    invalid,
)
from imagine_gateway.core.ids import new_id
from imagine_gateway.core.records import FileRecord
from imagine_gateway.core.timefmt import iso_ms
from imagine_gateway.media.probe import MediaInfo, probe_file
from imagine_gateway.media.signing import sign_media_path, sign_token, verify_token
from imagine_gateway.media.sniff import (
    ALLOWED_MIME,
    SNIFF_BYTES,
    MediaKind,
    extension_for,
    kind_of,
    sniff_mime,
)
from imagine_gateway.media.storage import Storage
from imagine_gateway.media.storage.base import storage_errors
from imagine_gateway.services.principal import Principal
from imagine_gateway.services.upload_rules import (
    KINDS,
    check_type,
    clean_name,
    size_limit,
    too_large,
)
from imagine_gateway.settings import Settings
from imagine_gateway.store import files as file_store
from imagine_gateway.store.db import Database

__all__ = ["FileRecord", "FileService", "Staged"]

UPLOAD_PREFIX = "uploads/"
_WRITE_BYTES = 1024 * 1024


@dataclass(frozen=True)
class FormFields:
    """The non-file form fields after checks."""

    kind: MediaKind
    model: ModelContract | None
    client_request_id: str | None


@dataclass
class Staged:
    """An upload received into a temp file; its type was sniffed from the first bytes."""

    path: pathlib.Path
    mime_type: str
    size_bytes: int


class FileService:
    """Uploads, their metadata rows and the URLs and tokens handed out for them."""

    def __init__(
        self, *, db: Database, storage: Storage, catalog: Catalog, clock: Clock, settings: Settings
    ) -> None:
        self.db = db
        self.storage = storage
        self.catalog = catalog
        self.clock = clock
        self.settings = settings
        self.work_dir = settings.home / "tmp"
        # A full decode holds every pixel (a 7000x7000 image: ~150 MB), so decodes take turns on
        # threads of their own rather than on any thread of the shared pool: at most this many at
        # once, and on the same few threads, so the memory freed by one decode is what the next one
        # reuses (the allocator keeps freed memory per thread arena).
        self._decoder = ThreadPoolExecutor(settings.max_concurrent_decodes, thread_name_prefix="decode")

    async def probe(self, path: pathlib.Path, *, expected_kind: MediaKind | None, field: str) -> MediaInfo:
        """``probe_file`` off the event loop, at most ``max_concurrent_decodes`` at once."""
        probe = functools.partial(probe_file, path, expected_kind=expected_kind, field=field)
        return await asyncio.get_running_loop().run_in_executor(self._decoder, probe)

    # --- uploads -------------------------------------------------------------------------------

    def check_fields(
        self, *, kind: str | None, model: str | None, client_request_id: str | None
    ) -> FormFields:
        """Validate ``kind``, ``model`` and ``client_request_id`` before any file byte is read."""
        if kind not in KINDS:
            issue = "is required" if kind is None else f"'{kind[:40]}' is not a file kind"
            raise invalid("kind", issue, list(KINDS))
        contract: ModelContract | None = None
        if model is not None:
            contract = self.catalog.get(model)
            if contract is None:
                raise invalid("model", f"unknown model '{model[:100]}'", self.catalog.ids)
            policy = contract.reference_media
            if policy is None or kind not in policy.kinds:
                accepted = list(policy.kinds) if policy is not None else []
                raise invalid("model", f"{contract.id} does not accept {kind} files", accepted)
        if client_request_id is not None and len(client_request_id) > CLIENT_REQUEST_ID_MAX:
            raise invalid("client_request_id", f"must be at most {CLIENT_REQUEST_ID_MAX} characters")
        return FormFields(kind=kind, model=contract, client_request_id=client_request_id)

    async def save(
        self,
        principal: Principal,
        *,
        stream: AsyncIterator[bytes],
        filename: str | None,
        kind: str,
        model: str | None,
        client_request_id: str | None,
    ) -> FileRecord:
        """Validate, store and record one upload; see the module docstring."""
        fields = self.check_fields(kind=kind, model=model, client_request_id=client_request_id)
        async with self.stage(stream, kind=fields.kind, model=fields.model) as staged:
            return await self._commit(principal, staged, fields, filename)

    async def save_staged(
        self,
        principal: Principal,
        staged: Staged,
        *,
        filename: str | None,
        kind: str | None,
        model: str | None,
        client_request_id: str | None,
    ) -> FileRecord:
        """Like ``save`` for a file ``stage``d before its fields were known (a file-first form)."""
        fields = self.check_fields(kind=kind, model=model, client_request_id=client_request_id)
        check_type(staged.mime_type, fields.kind, fields.model)
        limit = size_limit(fields.kind, fields.model)
        if staged.size_bytes > limit:
            raise too_large(limit, fields.kind, fields.model)
        return await self._commit(principal, staged, fields, filename)

    @contextlib.asynccontextmanager
    async def stage(
        self, stream: AsyncIterator[bytes], *, kind: MediaKind | None, model: ModelContract | None
    ) -> AsyncIterator[Staged]:
        """Receive ``stream`` into a temp file, removed on exit.

        The type is sniffed from the first bytes; from then on the size is checked against the limit of
        ``kind`` (or, when ``kind`` is not known yet, the largest limit any model has for the detected
        kind), and the upload is cut off as soon as it crosses it.
        """
        path = self.work_dir / f"upload-{secrets.token_hex(12)}"
        with storage_errors("receiving the upload"):  # a full or read-only disk: 507 / 503
            self.work_dir.mkdir(parents=True, exist_ok=True)
            handle: IO[bytes] = await asyncio.to_thread(path.open, "xb")
        try:
            with storage_errors("receiving the upload"):
                staged = await self._receive(stream, handle, path, kind=kind, model=model)
                await asyncio.to_thread(handle.close)
            yield staged
        finally:
            with contextlib.suppress(OSError):  # closing flushes, which a full disk refuses
                handle.close()
            with contextlib.suppress(OSError):  # what is left, the sweeper removes
                path.unlink(missing_ok=True)

    async def _receive(
        self,
        stream: AsyncIterator[bytes],
        handle: IO[bytes],
        path: pathlib.Path,
        *,
        kind: MediaKind | None,
        model: ModelContract | None,
    ) -> Staged:
        buffer = bytearray()
        size = 0
        mime: str | None = None
        limit = 0
        async for chunk in stream:
            size += len(chunk)
            buffer += chunk
            if mime is None and len(buffer) >= SNIFF_BYTES:
                mime, limit = self._sniffed(bytes(buffer[:SNIFF_BYTES]), kind, model)
            if mime is not None and size > limit:
                raise too_large(limit, kind or kind_of(mime) or "file", model)
            if len(buffer) >= _WRITE_BYTES:
                await asyncio.to_thread(handle.write, bytes(buffer))
                buffer.clear()
        if size == 0:
            raise invalid("file", "file is empty")
        if mime is None:
            mime, limit = self._sniffed(bytes(buffer), kind, model)
        if buffer:
            await asyncio.to_thread(handle.write, bytes(buffer))
        return Staged(path=path, mime_type=mime, size_bytes=size)

    def _sniffed(self, head: bytes, kind: MediaKind | None, model: ModelContract | None) -> tuple[str, int]:
        mime = sniff_mime(head)
        if kind is not None:
            return check_type(mime, kind, model), size_limit(kind, model)
        detected = kind_of(mime) if mime is not None else None
        if mime is None or detected is None or mime not in ALLOWED_MIME[detected]:
            allowed = sorted(set().union(*ALLOWED_MIME.values()))
            issue = (
                "file type is not recognised" if mime is None else f"detected {mime}, which is not accepted"
            )
            raise invalid("file", issue, allowed)
        return mime, max([size_limit(detected, None)] + [size_limit(detected, m) for m in self.catalog])

    async def _commit(
        self, principal: Principal, staged: Staged, fields: FormFields, filename: str | None
    ) -> FileRecord:
        info = await self.probe(staged.path, expected_kind=fields.kind, field="file")
        check_type(info.mime_type, fields.kind, fields.model)
        file_id = new_id("file")
        ext = extension_for(info.mime_type)
        record = await self.store_file(
            staged.path,
            info,
            file_id=file_id,
            account_id=principal.account_id,
            api_key_id=principal.api_key_id,
            name=clean_name(filename, f"{file_id}.{ext}"),
            origin="upload",
            source_url=None,
            model=fields.model.id if fields.model else None,
            client_request_id=fields.client_request_id,
            max_bytes=staged.size_bytes,
        )
        return record

    async def store_file(
        self,
        path: pathlib.Path,
        info: MediaInfo,
        *,
        file_id: str,
        account_id: str,
        api_key_id: str | None,
        name: str,
        origin: str,
        source_url: str | None,
        model: str | None,
        client_request_id: str | None,
        max_bytes: int,
    ) -> FileRecord:
        """Put a probed file into storage and insert its row; the blob is removed if the row is not."""
        key = f"{UPLOAD_PREFIX}{file_id}.{extension_for(info.mime_type)}"
        blob = await self.storage.put_stream(
            key, _read_file(path), content_type=info.mime_type, max_bytes=max_bytes
        )
        now = self.clock.now_ms()
        try:
            async with self.db.write() as conn:
                return await file_store.insert_file(
                    conn,
                    {
                        "id": file_id,
                        "account_id": account_id,
                        "api_key_id": api_key_id,
                        "kind": info.kind,
                        "name": name,
                        "mime_type": info.mime_type,
                        "size_bytes": blob.size_bytes,
                        "sha256": blob.sha256,
                        "width": info.width,
                        "height": info.height,
                        "duration_s": info.duration_s,
                        "storage_key": key,
                        "origin": origin,
                        "source_url": source_url,
                        "model": model,
                        "client_request_id": client_request_id,
                        "created_at": now,
                        "expires_at": now + int(self.settings.upload_retention_s * 1000),
                    },
                )
        except BaseException:
            await asyncio.shield(self.storage.delete(key))
            raise

    async def get(self, principal: Principal, file_id: str) -> FileRecord:
        """The caller's file; ``NotFound`` for another account's, an unknown or an expired one."""
        async with self.db.read() as conn:
            record = await file_store.get_file(conn, file_id, account_id=principal.account_id)
        if record is None or record.expires_at <= self.clock.now_ms():
            raise NotFound(f"File {file_id} was not found.")
        return record

    async def delete(self, record: FileRecord) -> None:
        """Remove the blob, then the row (a crash in between leaves a row the sweeper finishes)."""
        await self.storage.delete(record.storage_key)
        async with self.db.write() as conn:
            await file_store.delete_file(conn, record.id)

    async def read_bytes(self, record: FileRecord) -> bytes:
        """The whole file (references are bounded by their model's size limit)."""
        chunks = [chunk async for chunk in self.storage.read_range(record.storage_key, 0, None)]
        return b"".join(chunks)

    # --- URLs and tokens -----------------------------------------------------------------------

    def public_url(self, record: FileRecord) -> str:
        """The signed URL of the file, valid until the file expires."""
        query = sign_media_path(
            record.storage_key, expires_at=record.expires_at // 1000, secret=self.settings.signing_key
        )
        return f"{self.settings.public_base_url}/media/{record.storage_key}?{query}"

    def file_id_from_url(self, url: str) -> str | None:
        """The file id if ``url`` points into this gateway's uploads (any ``exp``/``sig``), else None."""
        prefix = f"{self.settings.public_base_url}/media/{UPLOAD_PREFIX}"
        if not url.startswith(prefix):
            return None
        name = url[len(prefix) :].split("?", 1)[0].split("#", 1)[0]
        return name.rsplit(".", 1)[0] if "." in name else name

    def duration_token(self, record: FileRecord) -> str | None:
        """A signed token binding file, account and duration, valid as long as the file (video/audio)."""
        if record.kind not in ("video", "audio") or record.duration_s is None:
            return None
        payload: dict[str, object] = {
            "typ": "duration",
            "file": record.id,
            "acct": record.account_id,
            "dur": record.duration_s,
            "exp": record.expires_at // 1000,
        }
        return sign_token(payload, secret=self.settings.signing_key)

    def verify_duration_token(self, token: str, *, account_id: str, file_id: str, field: str) -> float:
        """The duration a token vouches for; ``ValidationFailed`` naming ``field`` when it is not
        genuine, has expired, or was issued for another file or account."""
        try:
            claims = verify_token(token, secret=self.settings.signing_key, now=self.clock.now_ms() // 1000)
        except SignatureInvalid as exc:
            issue = "has expired" if exc.message == "expired" else "is not a valid duration token"
            raise invalid(field, issue, "the duration_token returned by the Files API for this file") from exc
        duration = claims.get("dur")
        if claims.get("typ") != "duration" or not isinstance(duration, int | float):
            raise invalid(field, "is not a valid duration token")
        if claims.get("acct") != account_id:
            raise invalid(field, "was issued to another account")
        if claims.get("file") != file_id:
            raise invalid(field, "was issued for another file")
        return float(duration)

    def file_view(self, record: FileRecord) -> dict[str, Any]:
        """The public JSON of a file."""
        return {
            "id": record.id,
            "object": "file",
            "kind": record.kind,
            "name": record.name,
            "mime_type": record.mime_type,
            "size_bytes": record.size_bytes,
            "sha256": record.sha256,
            "width": record.width,
            "height": record.height,
            "duration_seconds": record.duration_s,
            "url": self.public_url(record),
            "duration_token": self.duration_token(record),
            "model": record.model,
            "client_request_id": record.client_request_id,
            "created_at": iso_ms(record.created_at),
            "expires_at": iso_ms(record.expires_at),
        }


async def _read_file(path: pathlib.Path) -> AsyncIterator[bytes]:
    handle = await asyncio.to_thread(path.open, "rb")
    try:
        while chunk := await asyncio.to_thread(handle.read, _WRITE_BYTES):
            yield chunk
    finally:
        handle.close()
