"""The Files API over real HTTP: uploads, their URLs, and using them as references in a task."""

from __future__ import annotations

import hashlib
import io
import sqlite3
from datetime import datetime
from pathlib import Path
from typing import Any

import av
import httpx
import pytest
from PIL import Image

from tests.conftest import Gateway, Key
from tests.files import samples
from tests.matchers import ISO, Matches, error_body, media_url

FILE_ID = Matches(r"file_[A-Za-z0-9_-]{20}")
RED = (200, 30, 40)


def upload(
    gateway: Gateway,
    key: Key,
    data: bytes,
    *,
    name: str = "red.png",
    kind: str | None = "image",
    declared: str = "image/png",
    extra: dict[str, str] | None = None,
) -> httpx.Response:
    fields = {**({"kind": kind} if kind is not None else {}), **(extra or {})}
    return gateway.http.post(
        "/api/v1/files", headers=key.headers, data=fields, files={"file": (name, data, declared)}
    )


@pytest.fixture
def gateway(shared_gateway: Gateway) -> Gateway:
    return shared_gateway


def stored(gateway: Gateway) -> tuple[set[str], int, set[str]]:
    """What uploads left: blobs under the storage root, rows in the files table, temp files."""
    root = gateway.settings.home / "media" / "uploads"
    blobs = {p.name for p in root.iterdir()} if root.exists() else set()
    with sqlite3.connect(gateway.settings.home / "imagine.db") as db:
        rows = db.execute("select count(*) from files").fetchone()[0]
    tmp = gateway.settings.home / "tmp"
    return blobs, rows, {p.name for p in tmp.iterdir()} if tmp.exists() else set()


def file_body(
    gateway: Gateway,
    data: bytes,
    *,
    name: str,
    ext: str,
    width: int,
    height: int,
    mime: str = "image/png",
    **overrides: Any,
) -> dict[str, Any]:
    return {
        "id": FILE_ID,
        "object": "file",
        "kind": "image",
        "name": name,
        "mime_type": mime,
        "size_bytes": len(data),
        "sha256": hashlib.sha256(data).hexdigest(),
        "width": width,
        "height": height,
        "duration_seconds": None,
        "url": media_url(gateway.base_url, rf"uploads/file_[A-Za-z0-9_-]{{20}}\.{ext}"),
        "duration_token": None,
        "model": None,
        "client_request_id": None,
        "created_at": ISO,
        "expires_at": ISO,
        **overrides,
    }


def test_an_uploaded_png_is_described_served_and_readable_again(gateway: Gateway) -> None:
    key = gateway.key()
    data = samples.png(RED)
    created = upload(gateway, key, data, extra={"model": "grok-imagine", "client_request_id": "ref-1"})
    assert created.status_code == 201
    body = created.json()
    assert body == file_body(
        gateway,
        data,
        name="red.png",
        ext="png",
        width=64,
        height=48,
        model="grok-imagine",
        client_request_id="ref-1",
    )
    lifetime = datetime.fromisoformat(body["expires_at"]) - datetime.fromisoformat(body["created_at"])
    assert lifetime.total_seconds() == gateway.settings.upload_retention_s

    again = gateway.http.get(f"/api/v1/files/{body['id']}", headers=key.headers)
    assert (again.status_code, again.json()) == (200, body)

    served = httpx.get(body["url"])
    assert (served.status_code, served.content) == (200, data)
    assert served.headers["content-type"] == "image/png"
    assert served.headers["etag"] == f'"{body["sha256"]}"'
    part = httpx.get(body["url"], headers={"Range": "bytes=0-7"})
    assert (part.status_code, part.content, part.headers["content-range"]) == (
        206,
        data[:8],
        f"bytes 0-7/{len(data)}",
    )


def test_a_form_that_sends_the_file_first_is_accepted_too(gateway: Gateway) -> None:
    key = gateway.key()
    data = samples.jpeg()
    created = gateway.http.post(
        "/api/v1/files",
        headers=key.headers,
        files=[
            ("file", ("photo.jpeg", data, "application/octet-stream")),
            ("kind", (None, "image")),
            ("model", (None, "grok-imagine-video")),
        ],
    )
    assert (created.status_code, created.json()) == (
        201,
        file_body(
            gateway,
            data,
            name="photo.jpeg",
            ext="jpg",
            width=640,
            height=480,
            mime="image/jpeg",
            model="grok-imagine-video",
        ),
    )


def test_a_video_task_starts_from_the_reference_image(gateway: Gateway, tmp_path: Path) -> None:
    key = gateway.key()
    file = upload(gateway, key, samples.png(RED, (320, 180))).json()
    created = gateway.http.post(
        "/api/v1/generations",
        headers=key.headers,
        json={
            "model": "grok-imagine-video",
            "prompt": "Bring it to life",
            "params": {
                "aspect_ratio": "16:9",
                "referenceMediaItems": [{"url": file["url"], "kind": "image"}],
            },
        },
    )
    assert created.status_code == 202, created.text
    assert created.json()["params"]["referenceMediaItems"] == [{"url": file["url"], "kind": "image"}]
    done = gateway.wait_for(created.json()["id"], key)
    assert done["status"] == "succeeded"
    video = tmp_path / "out.mp4"
    video.write_bytes(httpx.get(done["result"]["primary_url"]).content)
    with av.open(str(video)) as container:
        first = next(container.decode(video=0)).to_image().convert("RGB")
    # The marks cover the top and bottom bands; the middle of the frame is the reference.
    assert (
        max(
            abs(a - b)
            for a, b in zip(first.getpixel((first.width // 2, first.height // 2)), RED, strict=True)
        )
        < 24
    )


def test_a_reference_url_with_a_stale_signature_is_still_recognised(gateway: Gateway) -> None:
    key = gateway.key()
    file = upload(gateway, key, samples.png()).json()
    stale = file["url"].split("?")[0] + "?exp=1&sig=old"
    created = gateway.http.post(
        "/api/v1/generations",
        headers=key.headers,
        json={
            "model": "grok-imagine",
            "prompt": "Edit it",
            "params": {"referenceMediaItems": [{"url": stale, "kind": "image"}]},
        },
    )
    assert created.status_code == 202, created.text


BAD_UPLOADS = {
    "empty file": (b"", "empty.png", "image", "image/png", "file is empty", None),
    "PNG renamed .jpg sent as video": (
        samples.png(),
        "clip.jpg",
        "video",
        "video/mp4",
        "detected image/png, which is not a video",
        ["video/mp4", "video/quicktime", "video/webm"],
    ),
    "text claiming image/png": (
        b"hello, this is plain text and not a picture at all\n" * 3,
        "cat.png",
        "image",
        "image/png",
        "detected text/plain, which is not an image",
        ["image/jpeg", "image/png", "image/webp"],
    ),
    "truncated JPEG": (
        samples.jpeg()[:4000],
        "cut.jpg",
        "image",
        "image/jpeg",
        "could not be decoded as image/jpeg",
        None,
    ),
    "20000x20000 PNG bomb": (
        samples.png_bomb(),
        "bomb.png",
        "image",
        "image/png",
        "image has more than 50000000 pixels",
        "at most 50000000 pixels",
    ),
    "zip archive": (
        samples.zip_archive(),
        "cat.zip",
        "image",
        "application/zip",
        "detected application/zip, which is not an image",
        ["image/jpeg", "image/png", "image/webp"],
    ),
}


@pytest.mark.parametrize("case", list(BAD_UPLOADS), ids=list(BAD_UPLOADS))
def test_a_bad_file_is_refused_and_leaves_nothing_behind(gateway: Gateway, case: str) -> None:
    data, name, kind, declared, issue, allowed = BAD_UPLOADS[case]
    key = gateway.key()
    before = stored(gateway)
    refused = upload(gateway, key, data, name=name, kind=kind, declared=declared)
    detail: dict[str, Any] = {"field": "file", "issue": issue}
    if allowed is not None:
        detail["allowed"] = allowed
    assert (refused.status_code, refused.json()) == (
        400,
        error_body("validation_failed", f"file: {issue}", [detail]),
    )
    assert stored(gateway) == before


@pytest.mark.parametrize("kind_first", [True, False], ids=["kind first", "file first"])
def test_an_image_one_byte_over_10_mb_is_cut_off_with_413(gateway: Gateway, kind_first: bool) -> None:
    key = gateway.key()
    data = samples.png() + b"\x00" * (10 * samples.MIB + 1 - len(samples.png()))
    parts = [("kind", (None, "image")), ("file", ("big.png", data, "image/png"))]
    before = stored(gateway)
    refused = gateway.http.post(
        "/api/v1/files", headers=key.headers, files=parts if kind_first else parts[::-1]
    )
    issue = "is larger than 10 MB (10485760 bytes), the limit for image files"
    assert (refused.status_code, refused.json()) == (
        413,
        error_body(
            "payload_too_large",
            f"file: {issue}",
            [{"field": "file", "issue": issue, "allowed": "at most 10485760 bytes"}],
        ),
    )
    assert stored(gateway) == before


@pytest.mark.parametrize(
    ("fields", "field", "issue", "allowed"),
    [
        ({}, "kind", "is required", ["image", "video", "audio"]),
        ({"kind": "document"}, "kind", "'document' is not a file kind", ["image", "video", "audio"]),
        ({"kind": "image", "model": "nope"}, "model", "unknown model 'nope'", None),
        (
            {"kind": "video", "model": "grok-imagine"},
            "model",
            "grok-imagine does not accept video files",
            ["image"],
        ),
        (
            {"kind": "image", "client_request_id": "x" * 129},
            "client_request_id",
            "must be at most 128 characters",
            None,
        ),
        (
            {"kind": "image", "purpose": "x"},
            "purpose",
            "unknown field",
            ["file", "kind", "model", "client_request_id"],
        ),
    ],
)
def test_bad_form_fields_are_named(
    gateway: Gateway, fields: dict[str, str], field: str, issue: str, allowed: Any
) -> None:
    key = gateway.key()
    before = stored(gateway)
    refused = gateway.http.post(
        "/api/v1/files",
        headers=key.headers,
        data=fields,
        files={"file": ("red.png", samples.png(), "image/png")},
    )
    body = refused.json()
    if field == "model" and allowed is None:
        allowed = body["error"]["details"][0].get("allowed")
        assert "grok-imagine" in allowed
    detail = {"field": field, "issue": issue, **({"allowed": allowed} if allowed is not None else {})}
    assert (refused.status_code, body) == (
        400,
        error_body("validation_failed", f"{field}: {issue}", [detail]),
    )
    assert stored(gateway) == before


def test_a_field_after_a_streamed_file_is_refused_and_the_file_removed(gateway: Gateway) -> None:
    key = gateway.key()
    before = stored(gateway)
    refused = gateway.http.post(
        "/api/v1/files",
        headers=key.headers,
        files=[
            ("kind", (None, "image")),
            ("file", ("red.png", samples.png(), "image/png")),
            ("model", (None, "grok-imagine")),
        ],
    )
    issue = "must be sent before the file part"
    assert (refused.status_code, refused.json()) == (
        400,
        error_body("validation_failed", f"model: {issue}", [{"field": "model", "issue": issue}]),
    )
    assert stored(gateway) == before


def test_a_body_that_is_not_multipart_is_refused(gateway: Gateway) -> None:
    key = gateway.key()
    refused = gateway.http.post("/api/v1/files", headers=key.headers, json={"kind": "image"})
    assert (refused.status_code, refused.json()["error"]["code"]) == (415, "unsupported_media_type")


def test_scopes_and_accounts_fence_files_in(gateway: Gateway) -> None:
    owner, stranger = gateway.key(), gateway.key()
    reader = gateway.key(scopes=["files:read"])
    file = upload(gateway, owner, samples.png()).json()
    assert upload(gateway, reader, samples.png()).json() == error_body(
        "api_scope_denied", "This API key lacks the scope 'files:create'."
    )
    missing = gateway.http.get(f"/api/v1/files/{file['id']}", headers=stranger.headers)
    assert (missing.status_code, missing.json()) == (
        404,
        error_body("not_found", f"File {file['id']} was not found."),
    )


def test_media_urls_with_a_bad_or_expired_signature_get_403(gateway: Gateway) -> None:
    key = gateway.key()
    url = upload(gateway, key, samples.png()).json()["url"]
    tampered = httpx.get(url[:-2] + ("AA" if not url.endswith("AA") else "BB"))
    assert (tampered.status_code, tampered.json()) == (
        403,
        error_body("signature_invalid", "invalid signature"),
    )
    path = url.split("?")[0]
    forged_expiry = httpx.get(path + "?exp=99999999999&sig=" + url.rsplit("sig=", 1)[1])
    assert forged_expiry.status_code == 403


def create(gateway: Gateway, key: Key, model: str, items: list[dict[str, Any]]) -> httpx.Response:
    return gateway.http.post(
        "/api/v1/generations",
        headers=key.headers,
        json={"model": model, "prompt": "Use the reference", "params": {"referenceMediaItems": items}},
    )


def test_bad_references_are_refused_at_creation_without_charging(gateway: Gateway) -> None:
    owner, stranger = gateway.key(credits=100), gateway.key(credits=100)
    mine = upload(gateway, owner, samples.png()).json()["url"]
    theirs = upload(gateway, stranger, samples.png()).json()["url"]
    item = "params.referenceMediaItems[0]"
    not_ours = (
        "is not a file of this gateway; this model accepts only files uploaded through POST /api/v1/files",
        "the url returned by POST /api/v1/files",
    )
    cases: list[tuple[str, list[dict[str, Any]], str, str, Any]] = [
        (
            "grok-imagine",
            [{"url": mine, "kind": "image"}] * 2,
            "params.referenceMediaItems",
            "has 2 items; this model accepts at most 1",
            {"max_files": 1, "kinds": ["image"]},
        ),
        (
            "grok-imagine-video",
            [{"url": theirs, "kind": "image"}],
            f"{item}.url",
            "is not a file of this account",
            "the url of a file this account uploaded through POST /api/v1/files",
        ),
        (
            "grok-imagine-video",
            [{"url": "http://127.0.0.1/x.png", "kind": "image"}],
            f"{item}.url",
            *not_ours,
        ),
        (
            "grok-imagine-video",
            [{"url": "http://169.254.169.254/latest/meta-data/", "kind": "image"}],
            f"{item}.url",
            *not_ours,
        ),
        (
            "grok-imagine-video",
            [{"url": mine, "kind": "image", "durationToken": "eyJmb3JnZWQiOjF9.AAAA"}],
            f"{item}.durationToken",
            "is not a valid duration token",
            "the duration_token returned by the Files API for this file",
        ),
    ]
    for model, items, field, issue, allowed in cases:
        refused = create(gateway, owner, model, items)
        assert (refused.status_code, refused.json()) == (
            400,
            error_body(
                "validation_failed",
                f"{field}: {issue}",
                [{"field": field, "issue": issue, "allowed": allowed}],
            ),
        ), field
    credits = gateway.http.get("/api/v1/credits", headers=owner.headers).json()
    assert (credits["balance"], credits["reserved"]) == (100, 0)


def test_an_image_reference_shows_in_an_image_task(gateway: Gateway) -> None:
    key = gateway.key()
    url = upload(gateway, key, samples.png((10, 40, 230), (400, 400))).json()["url"]
    done = gateway.wait_for(
        create(gateway, key, "grok-imagine", [{"url": url, "kind": "image"}]).json()["id"], key
    )
    assert done["status"] == "succeeded"
    with Image.open(io.BytesIO(httpx.get(done["result"]["primary_url"]).content)) as image:
        centre = image.convert("RGB").getpixel((image.width // 2, image.height // 2))
    assert max(abs(a - b) for a, b in zip(centre, (10, 40, 230), strict=True)) < 24


def test_an_uploaded_video_carries_its_duration_and_a_duration_token(
    gateway: Gateway, tmp_path: Path
) -> None:
    key = gateway.key()
    data = samples.mp4(tmp_path / "clip.mp4", seconds=1.0)
    created = upload(gateway, key, data, name="clip.mp4", kind="video", declared="video/mp4")
    body = created.json()
    assert (created.status_code, body) == (
        201,
        file_body(
            gateway,
            data,
            name="clip.mp4",
            ext="mp4",
            width=128,
            height=96,
            mime="video/mp4",
            kind="video",
            duration_seconds=body["duration_seconds"],
            duration_token=Matches(r"[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+"),
        ),
    )
    assert abs(body["duration_seconds"] - 1.0) < 0.01
