"""Media on S3 answered with a redirect to S3's own presigned URL (moto's real server on loopback).

``IMAGINE_S3_PRESIGNED_REDIRECTS`` makes a media GET answer 307 to a short-lived presigned GET URL
once the gateway's own checks have passed; every refusal is still the gateway's. moto serves the
object's stored type but ignores the ``response-*`` overrides, so those are checked on the URL itself.
"""

from __future__ import annotations

import hashlib
import re
import secrets
import time
import urllib.parse
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from imagine_gateway.media.signing import sign_media_path
from tests.conftest import Gateway
from tests.files import samples
from tests.matchers import Matches, error_body

SECRET = "a-secret-for-signing-media-urls-in-these-tests"


@pytest.fixture
def s3_gateway(gateway_factory: Callable[..., Gateway], s3_endpoint: str, aws_env: None) -> Gateway:
    bucket = f"media-{secrets.token_hex(6)}"
    return gateway_factory(
        storage_url=f"s3://{bucket}?endpoint={s3_endpoint}&region=us-east-1&prefix=gw/",
        s3_presigned_redirects=True,
        secret_key=SECRET,
    )


def upload_png(gateway: Gateway, data: bytes) -> dict[str, Any]:
    response = gateway.http.post(
        "/api/v1/files",
        headers=gateway.key().headers,
        data={"kind": "image"},
        files={"file": ("red.png", data, "image/png")},
    )
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


def query_of(url: str) -> dict[str, str]:
    return dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(url).query))


def signed(gateway: Gateway, key: str, *, expires_at: int) -> str:
    query = sign_media_path(key, expires_at=expires_at, secret=SECRET.encode())
    return f"{gateway.base_url}/media/{key}?{query}"


def test_a_media_get_redirects_to_a_presigned_s3_url_that_serves_the_same_bytes(
    s3_gateway: Gateway, s3_endpoint: str
) -> None:
    data = samples.png((200, 30, 40), (320, 180))
    file = upload_png(s3_gateway, data)

    redirect = httpx.get(file["url"])
    location = redirect.headers["location"]
    query = query_of(location)
    assert (redirect.status_code, redirect.headers["cache-control"], redirect.content) == (
        307,
        "no-store",
        b"",
    )
    assert (location.split("?")[0], query["response-content-type"], query["X-Amz-Expires"]) == (
        Matches(re.escape(s3_endpoint) + r"/media-[0-9a-f]{12}/gw/uploads/" + file["id"] + r"\.png"),
        "image/png",
        "300",
    )
    assert query["response-cache-control"] == "private, max-age=3600"
    assert "response-content-disposition" not in query

    direct = httpx.get(location)
    assert (direct.status_code, direct.headers["content-type"], direct.content) == (200, "image/png", data)


def test_a_range_request_follows_the_redirect_and_gets_its_part_from_s3(s3_gateway: Gateway) -> None:
    data = samples.png((20, 30, 240), (64, 48))
    file = upload_png(s3_gateway, data)

    part = httpx.get(file["url"], headers={"Range": "bytes=1-3"}, follow_redirects=True)

    assert (part.status_code, part.headers["content-range"], part.content) == (
        206,
        f"bytes 1-3/{len(data)}",
        data[1:4],
    )


def test_a_download_name_becomes_the_presigned_urls_content_disposition(s3_gateway: Gateway) -> None:
    file = upload_png(s3_gateway, samples.png())

    redirect = httpx.get(file["url"] + "&download=my%20red.png")

    assert (redirect.status_code, query_of(redirect.headers["location"])["response-content-disposition"]) == (
        307,
        "attachment; filename=\"my red.png\"; filename*=UTF-8''my%20red.png",
    )


def test_the_presigned_url_never_outlives_the_signed_url(s3_gateway: Gateway) -> None:
    file = upload_png(s3_gateway, samples.png())
    key = f"uploads/{file['id']}.png"

    redirect = httpx.get(signed(s3_gateway, key, expires_at=int(time.time()) + 60))
    lifetime_s = int(query_of(redirect.headers["location"])["X-Amz-Expires"])

    assert (redirect.status_code, 55 <= lifetime_s <= 60) == (307, True)


def test_a_bad_or_expired_signature_is_refused_by_the_gateway_without_a_redirect(
    s3_gateway: Gateway,
) -> None:
    file = upload_png(s3_gateway, samples.png())
    key = f"uploads/{file['id']}.png"
    tampered = file["url"][:-2] + ("AA" if not file["url"].endswith("AA") else "BB")

    refused = [httpx.get(url) for url in (tampered, signed(s3_gateway, key, expires_at=int(time.time()) - 1))]

    assert [(r.status_code, "location" in r.headers, r.json()) for r in refused] == [
        (403, False, error_body("signature_invalid", "invalid signature")),
        (403, False, error_body("signature_invalid", "expired")),
    ]


def test_a_missing_blob_is_not_found_at_the_gateway(s3_gateway: Gateway) -> None:
    missing = httpx.get(signed(s3_gateway, "uploads/file_none.png", expires_at=int(time.time()) + 60))

    assert (missing.status_code, "location" in missing.headers, missing.json()) == (
        404,
        False,
        error_body("not_found", "media not found"),
    )


def test_head_and_revalidation_are_answered_by_the_gateway(s3_gateway: Gateway) -> None:
    data = samples.png()
    file = upload_png(s3_gateway, data)
    etag = f'"{hashlib.sha256(data).hexdigest()}"'

    head = httpx.head(file["url"])
    revalidated = httpx.get(file["url"], headers={"If-None-Match": etag})

    assert (head.status_code, head.headers["etag"], head.headers["content-length"], head.content) == (
        200,
        etag,
        str(len(data)),
        b"",
    )
    assert (revalidated.status_code, revalidated.headers["etag"], "location" in revalidated.headers) == (
        304,
        etag,
        False,
    )


def test_a_generated_result_redirects_to_s3_too(s3_gateway: Gateway) -> None:
    key = s3_gateway.key()
    created = s3_gateway.http.post(
        "/api/v1/generations", headers=key.headers, json={"model": "grok-imagine", "prompt": "A red fox"}
    ).json()
    done = s3_gateway.wait_for(created["id"], key)

    redirect = httpx.get(done["result"]["primary_url"])
    image = httpx.get(redirect.headers["location"])

    assert (redirect.status_code, image.status_code, image.headers["content-type"]) == (307, 200, "image/png")
    assert hashlib.sha256(image.content).hexdigest() == done["result"]["media"][0]["sha256"]


def test_local_storage_serves_the_bytes_itself_with_the_setting_on(
    gateway_factory: Callable[..., Gateway],
) -> None:
    gateway = gateway_factory(s3_presigned_redirects=True)
    data = samples.png()
    file = upload_png(gateway, data)

    served = httpx.get(file["url"])

    assert (served.status_code, served.headers["content-type"], served.content) == (200, "image/png", data)


def test_the_openai_video_download_redirects_to_s3_after_checking_the_key(s3_gateway: Gateway) -> None:
    key = s3_gateway.key()
    created = s3_gateway.http.post(
        "/v1/videos",
        headers=key.headers,
        json={"model": "grok-imagine-video", "prompt": "A paper boat", "seconds": "4", "size": "1280x720"},
    ).json()
    done = s3_gateway.wait_for(created["id"], key)
    content_path = f"/v1/videos/{created['id']}/content"

    redirect = s3_gateway.http.get(content_path, headers=key.headers, follow_redirects=False)
    video = httpx.get(redirect.headers["location"])
    poster = s3_gateway.http.get(
        f"{content_path}?variant=thumbnail", headers=key.headers, follow_redirects=False
    )
    anonymous = s3_gateway.http.get(content_path, follow_redirects=False)

    assert (
        redirect.status_code,
        redirect.headers["cache-control"],
        query_of(redirect.headers["location"])["X-Amz-Expires"],
    ) == (
        307,
        "no-store",
        "300",
    )
    assert (video.status_code, video.headers["content-type"]) == (200, "video/mp4")
    assert hashlib.sha256(video.content).hexdigest() == done["result"]["media"][0]["sha256"]
    assert (poster.status_code, httpx.get(poster.headers["location"]).headers["content-type"]) == (
        307,
        "image/jpeg",
    )
    assert (anonymous.status_code, "location" in anonymous.headers) == (401, False)
