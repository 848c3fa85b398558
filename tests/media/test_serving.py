"""Serving stored blobs over HTTP: a small Starlette app around blob_response, called through httpx."""

from __future__ import annotations

import hashlib
import os
import pathlib
from collections.abc import AsyncIterator

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from imagine_gateway.core.errors import GatewayError, MethodNotAllowed
from imagine_gateway.media.serving import BlobRangeNotSatisfiable, blob_response
from imagine_gateway.media.storage import LocalStorage, Storage

TEXT_KEY = "results/task_abc/alphabet.txt"
TEXT = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"  # 36 bytes
TEXT_ETAG = '"' + hashlib.sha256(TEXT).hexdigest() + '"'


def app_serving(storage: Storage) -> Starlette:
    """What a real route does: pass the request's headers through and render errors."""

    async def media(request: Request) -> Response:
        return await blob_response(
            storage,
            request.path_params["key"],
            range_header=request.headers.get("range"),
            if_none_match=request.headers.get("if-none-match"),
            download_name=request.query_params.get("download"),
            method=request.method,
        )

    async def gateway_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, GatewayError)
        headers = {"Content-Range": exc.content_range} if isinstance(exc, BlobRangeNotSatisfiable) else None
        return JSONResponse({"error": {"code": exc.code}}, status_code=exc.status, headers=headers)

    return Starlette(
        routes=[Route("/media/{key:path}", media, methods=["GET", "HEAD"])],
        exception_handlers={GatewayError: gateway_error},
    )


@pytest.fixture
async def storage(tmp_path: pathlib.Path) -> AsyncIterator[Storage]:
    backend = LocalStorage(tmp_path / "media")
    await backend.put_bytes(TEXT_KEY, TEXT, content_type="text/plain")
    yield backend
    await backend.aclose()


@pytest.fixture
async def client(storage: Storage) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app_serving(storage))
    async with httpx.AsyncClient(transport=transport, base_url="http://gateway.test") as http:
        yield http


def headers_of(response: httpx.Response) -> dict[str, str]:
    return dict(response.headers)


FULL_HEADERS = {
    "etag": TEXT_ETAG,
    "cache-control": "private, max-age=3600",
    "accept-ranges": "bytes",
    "content-type": "text/plain",
    "x-content-type-options": "nosniff",
    "content-length": "36",
}


async def test_get_returns_the_whole_blob_with_its_headers(client: httpx.AsyncClient) -> None:
    response = await client.get(f"/media/{TEXT_KEY}")

    assert (response.status_code, headers_of(response), response.content) == (200, FULL_HEADERS, TEXT)


@pytest.mark.parametrize(
    ("range_header", "content_range", "body"),
    [
        ("bytes=0-9", "bytes 0-9/36", b"0123456789"),
        ("bytes=0-0", "bytes 0-0/36", b"0"),
        ("bytes=30-", "bytes 30-35/36", b"UVWXYZ"),
        ("bytes=-4", "bytes 32-35/36", b"WXYZ"),
        ("bytes=33-1000", "bytes 33-35/36", b"XYZ"),
        ("bytes=-1000", "bytes 0-35/36", TEXT),
        ("Bytes = 35-35", "bytes 35-35/36", b"Z"),
        ("bytes=10-12,", "bytes 10-12/36", b"ABC"),
    ],
)
async def test_single_range_gets_partial_content(
    client: httpx.AsyncClient, range_header: str, content_range: str, body: bytes
) -> None:
    response = await client.get(f"/media/{TEXT_KEY}", headers={"Range": range_header})

    expected_headers = FULL_HEADERS | {"content-range": content_range, "content-length": str(len(body))}
    assert (response.status_code, headers_of(response), response.content) == (206, expected_headers, body)


@pytest.mark.parametrize(
    "range_header", ["bytes=0-1,5-6", "bytes=9-3", "bytes=-", "bytes=abc", "items=0-5", "bytes 0-5", ""]
)
async def test_several_or_malformed_ranges_get_the_whole_blob(
    client: httpx.AsyncClient, range_header: str
) -> None:
    response = await client.get(f"/media/{TEXT_KEY}", headers={"Range": range_header})

    assert (response.status_code, headers_of(response), response.content) == (200, FULL_HEADERS, TEXT)


@pytest.mark.parametrize("range_header", ["bytes=36-", "bytes=36-40", "bytes=1000-", "bytes=-0"])
async def test_range_past_the_end_is_not_satisfiable(client: httpx.AsyncClient, range_header: str) -> None:
    response = await client.get(f"/media/{TEXT_KEY}", headers={"Range": range_header})

    assert (response.status_code, response.headers["content-range"], response.json()) == (
        416,
        "bytes */36",
        {"error": {"code": "range_not_satisfiable"}},
    )


@pytest.mark.parametrize(
    "if_none_match", [TEXT_ETAG, f"W/{TEXT_ETAG}", f'"other", {TEXT_ETAG}', "*", f" {TEXT_ETAG} "]
)
async def test_matching_if_none_match_gets_not_modified(
    client: httpx.AsyncClient, if_none_match: str
) -> None:
    response = await client.get(
        f"/media/{TEXT_KEY}", headers={"If-None-Match": if_none_match, "Range": "bytes=0-1"}
    )

    assert (response.status_code, headers_of(response), response.content) == (
        304,
        {"etag": TEXT_ETAG, "cache-control": "private, max-age=3600", "accept-ranges": "bytes"},
        b"",
    )


@pytest.mark.parametrize("if_none_match", ['"other"', TEXT_ETAG.strip('"'), 'W/"other"'])
async def test_other_if_none_match_gets_the_blob(client: httpx.AsyncClient, if_none_match: str) -> None:
    response = await client.get(f"/media/{TEXT_KEY}", headers={"If-None-Match": if_none_match})

    assert (response.status_code, response.content) == (200, TEXT)


async def test_head_gets_the_headers_without_a_body(client: httpx.AsyncClient) -> None:
    response = await client.head(f"/media/{TEXT_KEY}")

    assert (response.status_code, headers_of(response), response.content) == (200, FULL_HEADERS, b"")


async def test_head_ignores_range(client: httpx.AsyncClient) -> None:
    response = await client.head(f"/media/{TEXT_KEY}", headers={"Range": "bytes=0-3"})

    assert (response.status_code, headers_of(response), response.content) == (200, FULL_HEADERS, b"")


async def test_missing_blob_is_not_found(client: httpx.AsyncClient) -> None:
    response = await client.get("/media/results/task_none/0.mp4")

    assert (response.status_code, response.json()) == (404, {"error": {"code": "not_found"}})


async def test_download_name_sets_content_disposition(client: httpx.AsyncClient) -> None:
    response = await client.get(f"/media/{TEXT_KEY}", params={"download": 'my "video" €.txt'})

    assert response.headers["content-disposition"] == (
        "attachment; filename=\"my _video_ _.txt\"; filename*=UTF-8''my%20%22video%22%20%E2%82%AC.txt"
    )


async def test_empty_blob_is_served_empty(client: httpx.AsyncClient, storage: Storage) -> None:
    await storage.put_bytes("uploads/empty.bin", b"", content_type="application/octet-stream")

    response = await client.get("/media/uploads/empty.bin", headers={"Range": "bytes=-5"})

    assert (response.status_code, response.headers["content-length"], response.content) == (200, "0", b"")


async def test_range_across_storage_chunks_is_exact(client: httpx.AsyncClient, storage: Storage) -> None:
    data = os.urandom(3 * 1024 * 1024)
    await storage.put_bytes("results/task_big/0.mp4", data, content_type="video/mp4")
    start, end = 1024 * 1024 - 7, 2 * 1024 * 1024 + 7

    response = await client.get("/media/results/task_big/0.mp4", headers={"Range": f"bytes={start}-{end}"})

    assert (response.status_code, response.headers["content-range"], response.content) == (
        206,
        f"bytes {start}-{end}/{len(data)}",
        data[start : end + 1],
    )


async def test_stored_content_type_that_could_break_headers_is_served_as_octet_stream(
    client: httpx.AsyncClient, storage: Storage
) -> None:
    await storage.put_bytes("uploads/odd.bin", b"x", content_type="text/html\r\nSet-Cookie: a=b")

    response = await client.get("/media/uploads/odd.bin")

    assert (response.headers["content-type"], "set-cookie" in response.headers) == (
        "application/octet-stream",
        False,
    )


async def test_methods_other_than_get_and_head_are_refused(storage: Storage) -> None:
    with pytest.raises(MethodNotAllowed):
        await blob_response(storage, TEXT_KEY, range_header=None, if_none_match=None, method="DELETE")
