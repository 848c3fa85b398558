"""Storage backends: the local directory in tmp_path, and S3 against moto's real server on loopback."""

from __future__ import annotations

import asyncio
import hashlib
import os
import pathlib
import secrets
import shutil
import urllib.parse
from collections.abc import AsyncIterator, Iterator
from typing import Any

import boto3
import httpx
import pytest

from imagine_gateway.core.errors import NotFound, PayloadTooLarge
from imagine_gateway.media.storage import (
    LocalStorage,
    S3Storage,
    Storage,
    StoredBlob,
    open_storage,
    validate_key,
)

MIB = 1024 * 1024
REGION = "us-east-1"


@pytest.fixture
def aws_env(monkeypatch: pytest.MonkeyPatch, tmp_path: pathlib.Path) -> None:
    """Test credentials in the environment, and no other source boto3 could consult."""
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.delenv("AWS_SESSION_TOKEN", raising=False)
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-aws-config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "no-aws-credentials"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")


@pytest.fixture
def s3_admin(s3_endpoint: str, aws_env: None) -> Iterator[Any]:
    """A plain boto3 client on the same server, to look at what the backend left in a bucket."""
    client = boto3.client("s3", endpoint_url=s3_endpoint, region_name=REGION)
    yield client
    client.close()


@pytest.fixture
def bucket() -> str:
    """A fresh bucket name per test: the backend creates it on first use."""
    return f"media-{secrets.token_hex(6)}"


@pytest.fixture(params=["local", "s3"])
async def storage(
    request: pytest.FixtureRequest, tmp_path: pathlib.Path, bucket: str, aws_env: None
) -> AsyncIterator[Storage]:
    """Each backend in turn, empty."""
    if request.param == "local":
        backend = open_storage((tmp_path / "media").as_uri())
    else:
        endpoint = request.getfixturevalue("s3_endpoint")
        backend = open_storage(f"s3://{bucket}?endpoint={endpoint}&region={REGION}&prefix=media/")
    yield backend
    await backend.aclose()


async def chunks_of(data: bytes, size: int) -> AsyncIterator[bytes]:
    for offset in range(0, len(data), size):
        yield data[offset : offset + size]


async def read_all(storage: Storage, key: str, start: int = 0, end: int | None = None) -> bytes:
    return b"".join([chunk async for chunk in storage.read_range(key, start, end)])


def expected_blob(key: str, data: bytes, content_type: str) -> StoredBlob:
    sha256 = hashlib.sha256(data).hexdigest()
    return StoredBlob(key=key, size_bytes=len(data), sha256=sha256, content_type=content_type, etag=sha256)


def files_under(root: pathlib.Path) -> list[str]:
    return sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file())


def bucket_state(client: Any, bucket: str) -> tuple[list[str], list[str]]:
    """(object keys, keys of pending multipart uploads) in ``bucket``."""
    objects = client.list_objects_v2(Bucket=bucket).get("Contents", [])
    uploads = client.list_multipart_uploads(Bucket=bucket).get("Uploads", [])
    return sorted(o["Key"] for o in objects), sorted(u["Key"] for u in uploads)


# --- behaviour common to every backend ---


async def test_put_bytes_then_stat_read_and_delete_roundtrip(storage: Storage) -> None:
    data = b"\x89PNG fake but exact bytes" * 100
    key = "uploads/file_xyz.png"

    stored = await storage.put_bytes(key, data, content_type="image/png")

    assert stored == expected_blob(key, data, "image/png")
    assert await storage.stat(key) == stored
    assert await read_all(storage, key) == data
    await storage.delete(key)
    assert await storage.stat(key) is None


async def test_put_stream_stores_the_chunks_and_reports_their_sha256(storage: Storage) -> None:
    data = os.urandom(3 * MIB + 17)
    key = "results/task_abc/0.mp4"

    stored = await storage.put_stream(
        key, chunks_of(data, 64 * 1024), content_type="video/mp4", max_bytes=4 * MIB
    )

    assert stored == expected_blob(key, data, "video/mp4")
    assert await storage.stat(key) == stored
    assert await read_all(storage, key) == data


async def test_put_stream_accepts_exactly_max_bytes(storage: Storage) -> None:
    data = b"x" * 1000

    stored = await storage.put_stream(
        "uploads/exact.bin", chunks_of(data, 300), content_type="a/b", max_bytes=1000
    )

    assert stored == expected_blob("uploads/exact.bin", data, "a/b")


async def test_empty_blob_roundtrips(storage: Storage) -> None:
    stored = await storage.put_stream(
        "uploads/empty", chunks_of(b"", 1), content_type="text/plain", max_bytes=10
    )

    assert stored == expected_blob("uploads/empty", b"", "text/plain")
    assert await storage.stat("uploads/empty") == stored
    assert await read_all(storage, "uploads/empty") == b""


@pytest.mark.parametrize(
    ("start", "end", "expected"),
    [
        (0, 0, b"0"),
        (5, 9, b"56789"),
        (30, None, b"UVWXYZ"),
        (30, 1000, b"UVWXYZ"),
        (36, None, b""),
    ],
)
async def test_read_range_yields_the_requested_bytes(
    storage: Storage, start: int, end: int | None, expected: bytes
) -> None:
    await storage.put_bytes(
        "results/t/r.txt", b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ", content_type="text/plain"
    )

    assert await read_all(storage, "results/t/r.txt", start, end) == expected


async def test_read_range_spanning_chunk_boundaries_is_exact(storage: Storage) -> None:
    data = os.urandom(3 * MIB)
    await storage.put_bytes("results/t/big.bin", data, content_type="application/octet-stream")

    assert await read_all(storage, "results/t/big.bin", MIB - 3, 2 * MIB + 5) == data[MIB - 3 : 2 * MIB + 6]


async def test_missing_blob_has_no_stat_and_reading_it_raises_not_found(storage: Storage) -> None:
    assert await storage.stat("results/none/0.mp4") is None
    with pytest.raises(NotFound):
        await read_all(storage, "results/none/0.mp4")


async def test_delete_is_idempotent(storage: Storage) -> None:
    await storage.put_bytes("uploads/d.bin", b"abc", content_type="application/octet-stream")

    await storage.delete("uploads/d.bin")
    await storage.delete("uploads/d.bin")
    await storage.delete("uploads/never-there.bin")

    assert await storage.stat("uploads/d.bin") is None


async def test_put_replaces_an_existing_blob(storage: Storage) -> None:
    await storage.put_bytes("uploads/r.txt", b"first version", content_type="text/plain")

    stored = await storage.put_stream(
        "uploads/r.txt", chunks_of(b"second", 2), content_type="text/csv", max_bytes=99
    )

    assert stored == expected_blob("uploads/r.txt", b"second", "text/csv")
    assert await storage.stat("uploads/r.txt") == stored
    assert await read_all(storage, "uploads/r.txt") == b"second"


async def test_put_stream_over_limit_raises_and_keeps_the_earlier_blob(storage: Storage) -> None:
    earlier = await storage.put_bytes("uploads/keep.bin", b"earlier", content_type="text/plain")

    with pytest.raises(PayloadTooLarge):
        await storage.put_stream(
            "uploads/keep.bin", chunks_of(b"y" * 2000, 100), content_type="a/b", max_bytes=1999
        )

    assert await storage.stat("uploads/keep.bin") == earlier
    assert await read_all(storage, "uploads/keep.bin") == b"earlier"


@pytest.mark.parametrize(
    "key", ["", "/etc/passwd", "a/../b", "..", "a\\b", "a//b", "a/", "./a", "a/.meta/b", "a\x00b", "a\nb"]
)
async def test_unsafe_keys_are_rejected_by_every_operation(storage: Storage, key: str) -> None:
    with pytest.raises(ValueError):
        validate_key(key)
    with pytest.raises(ValueError):
        await storage.put_bytes(key, b"x", content_type="text/plain")
    with pytest.raises(ValueError):
        await storage.put_stream(key, chunks_of(b"x", 1), content_type="text/plain", max_bytes=10)
    with pytest.raises(ValueError):
        await storage.stat(key)
    with pytest.raises(ValueError):
        await read_all(storage, key)
    with pytest.raises(ValueError):
        await storage.delete(key)


@pytest.mark.parametrize("key", ["results/task_abc/0.mp4", "uploads/file_xyz.png", "a", "x-y_z/1.2.3"])
def test_ordinary_keys_are_accepted(key: str) -> None:
    assert validate_key(key) == key


# --- local backend ---


async def test_local_put_stream_over_limit_leaves_no_file(tmp_path: pathlib.Path) -> None:
    root = tmp_path / "media"
    storage = LocalStorage(root)

    with pytest.raises(PayloadTooLarge):
        await storage.put_stream(
            "results/task_abc/0.mp4",
            chunks_of(b"z" * (3 * MIB), 64 * 1024),
            content_type="video/mp4",
            max_bytes=2 * MIB,
        )

    assert files_under(root) == []
    assert await storage.stat("results/task_abc/0.mp4") is None


async def test_local_put_stream_cancelled_midway_leaves_no_file(tmp_path: pathlib.Path) -> None:
    root = tmp_path / "media"
    storage = LocalStorage(root)
    sent_enough = asyncio.Event()

    async def stalls_after_two_mib() -> AsyncIterator[bytes]:
        for _ in range(32):
            yield b"s" * (64 * 1024)
        sent_enough.set()
        await asyncio.Event().wait()
        yield b"never"

    put = asyncio.create_task(
        storage.put_stream("uploads/u.bin", stalls_after_two_mib(), content_type="a/b", max_bytes=10 * MIB)
    )
    await sent_enough.wait()
    put.cancel()
    with pytest.raises(asyncio.CancelledError):
        await put

    assert files_under(root) == []


async def test_local_layout_keeps_the_blob_at_its_key_with_metadata_beside(tmp_path: pathlib.Path) -> None:
    root = tmp_path / "media"
    storage = LocalStorage(root)

    await storage.put_bytes("results/task_abc/0.mp4", b"video", content_type="video/mp4")

    assert await storage.local_path("results/task_abc/0.mp4") == root / "results/task_abc/0.mp4"
    assert (root / "results/task_abc/0.mp4").read_bytes() == b"video"
    assert files_under(root) == [".meta/results/task_abc/0.mp4.json", "results/task_abc/0.mp4"]
    assert await storage.local_path("results/task_abc/1.mp4") is None


async def test_local_blob_path_names_the_file_without_looking(tmp_path: pathlib.Path) -> None:
    root = tmp_path / "media"
    storage = LocalStorage(root)
    assert storage.blob_path("results/task_abc/0.mp4") == root / "results/task_abc/0.mp4"
    await storage.put_bytes("results/task_abc/0.mp4", b"video", content_type="video/mp4")
    assert storage.blob_path("results/task_abc/0.mp4") == await storage.local_path("results/task_abc/0.mp4")


async def test_local_puts_recreate_directories_removed_behind_their_back(tmp_path: pathlib.Path) -> None:
    root = tmp_path / "media"
    storage = LocalStorage(root)
    await storage.put_bytes("a/b.txt", b"first", content_type="text/plain")
    for directory in (".tmp", ".meta", "a"):
        shutil.rmtree(root / directory)

    stored = await storage.put_stream(
        "a/b.txt", chunks_of(b"second", 2), content_type="text/plain", max_bytes=100
    )

    assert (await storage.stat("a/b.txt"), await read_all(storage, "a/b.txt")) == (stored, b"second")
    assert files_under(root) == [".meta/a/b.txt.json", "a/b.txt"]


def test_local_storage_needs_an_absolute_root() -> None:
    with pytest.raises(ValueError):
        LocalStorage(pathlib.Path("relative/media"))


# --- S3 backend ---


async def test_s3_objects_live_under_the_prefix_with_their_metadata(
    s3_endpoint: str, s3_admin: Any, bucket: str
) -> None:
    storage = open_storage(f"s3://{bucket}?endpoint={s3_endpoint}&region={REGION}&prefix=media/")
    stored = await storage.put_bytes("uploads/file_xyz.png", b"png bytes", content_type="image/png")
    await storage.aclose()

    head = s3_admin.head_object(Bucket=bucket, Key="media/uploads/file_xyz.png")
    assert (head["ContentType"], head["Metadata"], head["ContentLength"]) == (
        "image/png",
        {"sha256": stored.sha256},
        9,
    )
    assert bucket_state(s3_admin, bucket) == (["media/uploads/file_xyz.png"], [])


async def test_s3_presigns_a_get_of_the_object_with_the_response_headers(
    s3_endpoint: str, s3_admin: Any, bucket: str
) -> None:
    storage = open_storage(f"s3://{bucket}?endpoint={s3_endpoint}&region={REGION}&prefix=media/")
    await storage.put_bytes("uploads/file_xyz.png", b"png bytes", content_type="image/png")
    url = await storage.presigned_get_url(
        "uploads/file_xyz.png",
        expires_in_s=120,
        content_type="image/png",
        content_disposition='attachment; filename="cat.png"',
        cache_control="private, max-age=3600",
    )
    await storage.aclose()

    assert url is not None
    query = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(url).query))
    assert (url.split("?")[0], query["X-Amz-Algorithm"], query["X-Amz-Expires"]) == (
        f"{s3_endpoint}/{bucket}/media/uploads/file_xyz.png",
        "AWS4-HMAC-SHA256",
        "120",
    )
    assert (
        query["response-content-type"],
        query["response-content-disposition"],
        query["response-cache-control"],
    ) == ("image/png", 'attachment; filename="cat.png"', "private, max-age=3600")
    async with httpx.AsyncClient() as http:
        direct = await http.get(url)
    assert (direct.status_code, direct.content) == (200, b"png bytes")


async def test_local_storage_has_no_presigned_urls(tmp_path: pathlib.Path) -> None:
    storage = LocalStorage(tmp_path / "media")
    await storage.put_bytes("uploads/file_xyz.png", b"png bytes", content_type="image/png")

    url = await storage.presigned_get_url(
        "uploads/file_xyz.png",
        expires_in_s=120,
        content_type="image/png",
        content_disposition=None,
        cache_control="private, max-age=3600",
    )

    assert url is None


async def test_s3_credentials_may_come_from_the_url(s3_endpoint: str, s3_admin: Any, bucket: str) -> None:
    storage = open_storage(
        f"s3://{bucket}/stuff/?endpoint={s3_endpoint}&region={REGION}&access_key=AKIDURL&secret_key=url-secret"
    )
    await storage.put_bytes("a/b.txt", b"hi", content_type="text/plain")
    await storage.aclose()

    assert bucket_state(s3_admin, bucket) == (["stuff/a/b.txt"], [])


async def test_s3_large_stream_is_uploaded_in_parts_as_it_arrives(
    s3_endpoint: str, s3_admin: Any, bucket: str
) -> None:
    storage = open_storage(f"s3://{bucket}?endpoint={s3_endpoint}&region={REGION}&prefix=media/")
    data = os.urandom(12 * MIB)
    seen_while_streaming: list[tuple[list[str], list[str]]] = []

    async def twelve_mib_in_64_kib_chunks() -> AsyncIterator[bytes]:
        for offset in range(0, len(data), 64 * 1024):
            if offset == 8 * MIB:
                seen_while_streaming.append(await asyncio.to_thread(bucket_state, s3_admin, bucket))
            yield data[offset : offset + 64 * 1024]

    stored = await storage.put_stream(
        "results/task_abc/0.mp4", twelve_mib_in_64_kib_chunks(), content_type="video/mp4", max_bytes=20 * MIB
    )

    [(objects_then, uploads_then)] = seen_while_streaming
    assert objects_then == []
    assert len(uploads_then) == 1 and uploads_then[0].startswith("media/.tmp/")
    assert stored == expected_blob("results/task_abc/0.mp4", data, "video/mp4")
    assert await storage.stat("results/task_abc/0.mp4") == stored
    assert await read_all(storage, "results/task_abc/0.mp4") == data
    assert bucket_state(s3_admin, bucket) == (["media/results/task_abc/0.mp4"], [])
    await storage.aclose()


async def test_s3_put_stream_over_limit_leaves_no_object_and_no_pending_upload(
    s3_endpoint: str, s3_admin: Any, bucket: str
) -> None:
    storage = open_storage(f"s3://{bucket}?endpoint={s3_endpoint}&region={REGION}")

    with pytest.raises(PayloadTooLarge):
        # past 5 MiB one part is already uploaded when the limit is crossed
        await storage.put_stream(
            "results/task_abc/0.mp4",
            chunks_of(b"z" * (12 * MIB), 64 * 1024),
            content_type="video/mp4",
            max_bytes=8 * MIB,
        )
    await storage.aclose()

    assert bucket_state(s3_admin, bucket) == ([], [])


async def test_s3_put_stream_whose_source_fails_leaves_nothing(
    s3_endpoint: str, s3_admin: Any, bucket: str
) -> None:
    storage = open_storage(f"s3://{bucket}?endpoint={s3_endpoint}&region={REGION}")

    async def breaks_after_six_mib() -> AsyncIterator[bytes]:
        for _ in range(96):
            yield b"b" * (64 * 1024)
        raise ConnectionResetError("client went away")

    with pytest.raises(ConnectionResetError):
        await storage.put_stream(
            "uploads/u.bin", breaks_after_six_mib(), content_type="a/b", max_bytes=20 * MIB
        )
    await storage.aclose()

    assert bucket_state(s3_admin, bucket) == ([], [])


async def test_s3_put_stream_cancelled_midway_aborts_its_upload(
    s3_endpoint: str, s3_admin: Any, bucket: str
) -> None:
    storage = open_storage(f"s3://{bucket}?endpoint={s3_endpoint}&region={REGION}")
    sent_enough = asyncio.Event()

    async def stalls_after_six_mib() -> AsyncIterator[bytes]:
        for _ in range(96):
            yield b"s" * (64 * 1024)
        sent_enough.set()
        await asyncio.Event().wait()
        yield b"never"

    put = asyncio.create_task(
        storage.put_stream("uploads/u.bin", stalls_after_six_mib(), content_type="a/b", max_bytes=20 * MIB)
    )
    await sent_enough.wait()
    assert bucket_state(s3_admin, bucket)[1] != []
    put.cancel()
    with pytest.raises(asyncio.CancelledError):
        await put
    await storage.aclose()

    assert bucket_state(s3_admin, bucket) == ([], [])


async def test_s3_local_path_is_none(s3_endpoint: str, aws_env: None, bucket: str) -> None:
    storage = open_storage(f"s3://{bucket}?endpoint={s3_endpoint}&region={REGION}")
    await storage.put_bytes("a/b.txt", b"hi", content_type="text/plain")

    assert await storage.local_path("a/b.txt") is None
    await storage.aclose()


# --- open_storage ---


def test_open_storage_reads_a_file_url(tmp_path: pathlib.Path) -> None:
    storage = open_storage((tmp_path / "my media").as_uri())

    assert isinstance(storage, LocalStorage)
    assert storage.root == tmp_path / "my media"


def test_open_storage_reads_an_s3_url(aws_env: None) -> None:
    storage = open_storage("s3://bucket?endpoint=http://127.0.0.1:9000&region=eu-west-1&prefix=media/")

    assert isinstance(storage, S3Storage)
    assert (storage.bucket, storage.prefix, storage.endpoint_url, storage.region) == (
        "bucket",
        "media/",
        "http://127.0.0.1:9000",
        "eu-west-1",
    )


@pytest.mark.parametrize(
    "url",
    [
        "http://example.invalid/media",
        "/var/media",
        "file://somehost/var/media",
        "file:relative/media",
        "file:///var/media?x=1",
        "s3://",
        "s3://bucket?bogus=1",
        "s3://bucket?region=a&region=b",
        "s3://bucket/p/?prefix=q/",
        "s3://bucket?access_key=only-half",
        "s3://bucket?endpoint=127.0.0.1:9000",
    ],
)
def test_open_storage_rejects_bad_urls(url: str) -> None:
    with pytest.raises(ValueError):
        open_storage(url)
