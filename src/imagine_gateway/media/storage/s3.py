"""Media in an S3-compatible object store (AWS S3, MinIO, Ceph, ...): the scale-out backend.

boto3 is synchronous, so every call runs in a worker thread. Each object carries its content type and
the sha256 of its content (user metadata ``sha256``), so ``stat`` is a single HEAD request.

Streaming puts buffer one 5 MiB part at a time. Content that fits in one part is written with a
single PUT. Larger content goes through a multipart upload to a temporary key under ``<prefix>.tmp/``,
because S3 wants the metadata when the upload starts and the sha256 is known only at its end; the
finished object is then copied server-side to its key with the metadata and the temporary object is
deleted. A failed or cancelled put aborts its multipart upload (or deletes its temporary object), so it
leaves nothing behind; only a process killed mid-put can leave a pending upload or a ``.tmp/`` object,
which a bucket lifecycle rule (abort incomplete multipart uploads, expire ``.tmp/``) cleans up.

For the embedded developer experience the bucket is created on first use when it does not exist;
in production, create it beforehand and grant the gateway only object permissions.
"""

from __future__ import annotations

import functools
import hashlib
import logging
import pathlib
import secrets
from collections.abc import AsyncIterator, Callable
from typing import Any

import anyio
import boto3
from anyio import to_thread
from boto3.s3.transfer import TransferConfig
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from imagine_gateway.core.errors import InternalError, NotFound
from imagine_gateway.media.storage.base import CHUNK_BYTES, StoredBlob, etag_for, too_large, validate_key

log = logging.getLogger(__name__)

PART_BYTES = 5 * 1024 * 1024
"""Multipart part size: S3's minimum for every part but the last."""

_TMP_PREFIX = ".tmp/"
_MISSING_CODES = frozenset({"404", "NoSuchKey", "NotFound", "NoSuchBucket"})
# CopyObject takes up to 5 GiB; beyond that boto3's managed copy switches to a multipart copy
_COPY_CONFIG = TransferConfig(multipart_threshold=5 * 1024**3, multipart_chunksize=512 * 1024**2)


def _error_code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))


class S3Storage:
    """Blobs as objects named ``prefix + key`` in ``bucket``."""

    def __init__(
        self,
        *,
        bucket: str,
        prefix: str = "",
        endpoint_url: str | None = None,
        region: str | None = None,
        access_key: str | None = None,
        secret_key: str | None = None,
    ) -> None:
        if not bucket:
            raise ValueError("S3 bucket name is empty")
        self.bucket = bucket
        self.prefix = prefix
        self.endpoint_url = endpoint_url
        self.region = region
        # Self-hosted stores (MinIO, moto) rarely have per-bucket DNS names, so path-style addressing
        config = Config(
            s3={"addressing_style": "path"} if endpoint_url else {},
            # SigV4 for presigned URLs too (boto3 would presign with SigV2, which newer regions refuse)
            signature_version="s3v4",
            retries={"max_attempts": 3, "mode": "standard"},
            connect_timeout=10,
            read_timeout=60,
            max_pool_connections=32,
        )
        # None credentials fall through to boto3's chain: AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, profiles
        self._client: Any = boto3.session.Session().client(
            "s3",
            endpoint_url=endpoint_url,
            region_name=region,
            aws_access_key_id=access_key,
            aws_secret_access_key=secret_key,
            config=config,
        )
        self._bucket_ready = False
        self._bucket_lock = anyio.Lock()

    def __repr__(self) -> str:
        return (
            f"S3Storage(bucket={self.bucket!r}, prefix={self.prefix!r}, endpoint_url={self.endpoint_url!r})"
        )

    def _object_key(self, key: str) -> str:
        return self.prefix + validate_key(key)

    async def _call(self, method: Callable[..., Any], *, missing_ok: bool = False, **kwargs: Any) -> Any:
        """Run one boto3 call in a thread; a missing object gives ``None`` when ``missing_ok``."""
        try:
            return await to_thread.run_sync(functools.partial(method, **kwargs))
        except ClientError as exc:
            if missing_ok and _error_code(exc) in _MISSING_CODES:
                return None
            raise InternalError(f"media storage request failed ({_error_code(exc) or 'error'})") from exc
        except BotoCoreError as exc:
            raise InternalError("media storage is unreachable") from exc

    async def _ready(self) -> None:
        if self._bucket_ready:
            return
        async with self._bucket_lock:
            if not self._bucket_ready:
                await to_thread.run_sync(self._ensure_bucket)
                self._bucket_ready = True

    def _ensure_bucket(self) -> None:
        try:
            self._client.head_bucket(Bucket=self.bucket)
            return
        except ClientError as exc:
            # 403 means it exists but we may not list it: use it as it is
            if _error_code(exc) not in _MISSING_CODES:
                if _error_code(exc) in {"403", "AccessDenied"}:
                    return
                raise InternalError(f"media bucket check failed ({_error_code(exc)})") from exc
        except BotoCoreError as exc:
            raise InternalError("media storage is unreachable") from exc
        log.info("creating missing media bucket %r", self.bucket)
        extra: dict[str, Any] = {}
        if self.region and self.region != "us-east-1":
            extra["CreateBucketConfiguration"] = {"LocationConstraint": self.region}
        try:
            self._client.create_bucket(Bucket=self.bucket, **extra)
        except ClientError as exc:
            if _error_code(exc) not in {"BucketAlreadyOwnedByYou", "BucketAlreadyExists"}:
                raise InternalError(f"media bucket creation failed ({_error_code(exc)})") from exc
        except BotoCoreError as exc:
            raise InternalError("media storage is unreachable") from exc

    async def put_stream(
        self, key: str, chunks: AsyncIterator[bytes], *, content_type: str, max_bytes: int
    ) -> StoredBlob:
        """Stream ``chunks`` in 5 MiB parts (see the module docstring and ``Storage``)."""
        object_key = self._object_key(key)
        await self._ready()
        hasher = hashlib.sha256()
        upload: _MultipartUpload | None = None
        try:
            received = 0
            buffer = bytearray()
            async for chunk in chunks:
                received += len(chunk)
                if received > max_bytes:
                    raise too_large(max_bytes)
                buffer += chunk
                if len(buffer) >= PART_BYTES:
                    if upload is None:
                        upload = await _MultipartUpload.start(self, content_type)
                    await upload.send_part(bytes(buffer), hasher)
                    buffer.clear()
            if upload is None:
                return await self.put_bytes(key, bytes(buffer), content_type=content_type)
            if buffer:
                await upload.send_part(bytes(buffer), hasher)
            await upload.complete()
            sha256 = hasher.hexdigest()
            await self._call(
                self._client.copy,
                CopySource={"Bucket": self.bucket, "Key": upload.tmp_key},
                Bucket=self.bucket,
                Key=object_key,
                ExtraArgs={
                    "ContentType": content_type,
                    "Metadata": {"sha256": sha256},
                    "MetadataDirective": "REPLACE",
                },
                Config=_COPY_CONFIG,
            )
            await upload.discard()
            return StoredBlob(key, received, sha256, content_type, etag_for(sha256))
        except BaseException:
            if upload is not None:
                with anyio.CancelScope(shield=True):
                    await upload.discard()
            raise

    async def put_bytes(self, key: str, data: bytes, *, content_type: str) -> StoredBlob:
        """Store ``data`` with one PUT."""
        object_key = self._object_key(key)
        await self._ready()
        sha256 = await to_thread.run_sync(lambda: hashlib.sha256(data).hexdigest())
        await self._call(
            self._client.put_object,
            Bucket=self.bucket,
            Key=object_key,
            Body=data,
            ContentType=content_type,
            Metadata={"sha256": sha256},
        )
        return StoredBlob(key, len(data), sha256, content_type, etag_for(sha256))

    async def stat(self, key: str) -> StoredBlob | None:
        """One HEAD request; ``None`` if there is no such object.

        An object written by something else than this backend has no ``sha256`` metadata: it is
        reported with ``sha256=""`` and an ETag derived from S3's own.
        """
        object_key = self._object_key(key)
        await self._ready()
        head = await self._call(self._client.head_object, missing_ok=True, Bucket=self.bucket, Key=object_key)
        if head is None:
            return None
        sha256 = str(head.get("Metadata", {}).get("sha256", ""))
        etag = etag_for(sha256) if sha256 else "s3-" + str(head.get("ETag", "")).strip('"')
        return StoredBlob(
            key=key,
            size_bytes=int(head["ContentLength"]),
            sha256=sha256,
            content_type=str(head.get("ContentType") or "application/octet-stream"),
            etag=etag,
        )

    async def read_range(self, key: str, start: int, end_inclusive: int | None) -> AsyncIterator[bytes]:
        """One ranged GET, its body read in chunks of up to 1 MiB (see ``Storage``)."""
        if start < 0 or (end_inclusive is not None and end_inclusive < start):
            raise ValueError(f"bad byte range {start}-{end_inclusive}")
        object_key = self._object_key(key)
        await self._ready()
        request: dict[str, Any] = {"Bucket": self.bucket, "Key": object_key}
        # A plain GET for the whole object: S3 refuses any Range on an empty object
        if start > 0 or end_inclusive is not None:
            request["Range"] = f"bytes={start}-{'' if end_inclusive is None else end_inclusive}"
        try:
            response = await to_thread.run_sync(functools.partial(self._client.get_object, **request))
        except ClientError as exc:
            if _error_code(exc) in _MISSING_CODES:
                raise NotFound(f"no media stored under {key!r}") from exc
            if _error_code(exc) == "InvalidRange":
                return  # start is past the end: nothing to read, as with a file
            raise InternalError(f"media storage request failed ({_error_code(exc)})") from exc
        except BotoCoreError as exc:
            raise InternalError("media storage is unreachable") from exc
        body = response["Body"]
        try:
            while chunk := await to_thread.run_sync(body.read, CHUNK_BYTES):
                yield chunk
        except BotoCoreError as exc:
            raise InternalError("media storage read failed") from exc
        finally:
            body.close()

    async def presign_put(self, key: str, *, expires_s: int) -> str:
        """A pre-signed URL that lets its holder PUT one object under ``key`` for ``expires_s``."""
        await self._ready()
        url: str = await to_thread.run_sync(
            functools.partial(
                self._client.generate_presigned_url,
                "put_object",
                Params={"Bucket": self.bucket, "Key": self._object_key(key)},
                ExpiresIn=expires_s,
            )
        )
        return url

    async def delete(self, key: str) -> None:
        """DELETE the object; S3 deletes are idempotent."""
        object_key = self._object_key(key)
        await self._ready()
        await self._call(self._client.delete_object, missing_ok=True, Bucket=self.bucket, Key=object_key)

    async def local_path(self, key: str) -> pathlib.Path | None:
        """Objects have no local file."""
        return None

    async def presigned_get_url(
        self,
        key: str,
        *,
        expires_in_s: int,
        content_type: str,
        content_disposition: str | None,
        cache_control: str,
    ) -> str | None:
        """S3's own presigned GET URL (SigV4 query auth), with the response headers it must set.

        The URL names this backend's endpoint, so clients must be able to reach it.
        """
        params: dict[str, str] = {
            "Bucket": self.bucket,
            "Key": self._object_key(key),
            "ResponseContentType": content_type,
            "ResponseCacheControl": cache_control,
        }
        if content_disposition is not None:
            params["ResponseContentDisposition"] = content_disposition
        url = await self._call(
            self._client.generate_presigned_url,
            ClientMethod="get_object",
            Params=params,
            ExpiresIn=expires_in_s,
        )
        return str(url)

    async def aclose(self) -> None:
        """Close the client's connection pool."""
        await to_thread.run_sync(self._client.close)


class _MultipartUpload:
    """One multipart upload to a temporary key, and its cleanup."""

    def __init__(self, storage: S3Storage, tmp_key: str, upload_id: str) -> None:
        self._storage = storage
        self.tmp_key = tmp_key
        self._upload_id = upload_id
        self._parts: list[dict[str, Any]] = []
        self._completed = False

    @classmethod
    async def start(cls, storage: S3Storage, content_type: str) -> _MultipartUpload:
        tmp_key = f"{storage.prefix}{_TMP_PREFIX}{secrets.token_hex(16)}"
        created = await storage._call(
            storage._client.create_multipart_upload,
            Bucket=storage.bucket,
            Key=tmp_key,
            ContentType=content_type,
        )
        return cls(storage, tmp_key, str(created["UploadId"]))

    async def send_part(self, data: bytes, hasher: Any) -> None:
        """Hash and upload the next part, in order."""
        number = len(self._parts) + 1
        await to_thread.run_sync(hasher.update, data)
        sent = await self._storage._call(
            self._storage._client.upload_part,
            Bucket=self._storage.bucket,
            Key=self.tmp_key,
            UploadId=self._upload_id,
            PartNumber=number,
            Body=data,
        )
        self._parts.append({"PartNumber": number, "ETag": sent["ETag"]})

    async def complete(self) -> None:
        await self._storage._call(
            self._storage._client.complete_multipart_upload,
            Bucket=self._storage.bucket,
            Key=self.tmp_key,
            UploadId=self._upload_id,
            MultipartUpload={"Parts": self._parts},
        )
        self._completed = True

    async def discard(self) -> None:
        """Abort the upload, or delete the temporary object once it is complete. Never raises."""
        client = self._storage._client
        try:
            if self._completed:
                await self._storage._call(client.delete_object, Bucket=self._storage.bucket, Key=self.tmp_key)
            else:
                await self._storage._call(
                    client.abort_multipart_upload,
                    Bucket=self._storage.bucket,
                    Key=self.tmp_key,
                    UploadId=self._upload_id,
                )
        except InternalError:
            log.warning("could not clean up temporary upload %r", self.tmp_key, exc_info=True)
