"""Bring-your-own-storage: with ``xai_output_upload`` on, xAI PUTs each result into the gateway's own
storage (a signed upload route on local storage, a pre-signed S3 URL on S3) and collect takes it
from there, so a zero-data-retention team (which must send ``output.upload_url``) is served."""

from __future__ import annotations

import secrets
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from imagine_gateway.media.upstream_uploads import staging_key
from tests.conftest import Gateway
from tests.matchers import Matches, media_url
from tests.providers.conftest import StartMock, create, task_row


def storage_settings(backend: str, request: pytest.FixtureRequest) -> dict[str, Any]:
    if backend == "local":
        return {}
    endpoint = request.getfixturevalue("s3_endpoint")
    bucket = f"media-{secrets.token_hex(6)}"
    query = f"endpoint={endpoint}&region=us-east-1&access_key=testing&secret_key=testing"
    return {"storage_url": f"s3://{bucket}?{query}"}


@pytest.mark.parametrize("backend", ["local", "s3"])
def test_a_zero_data_retention_team_gets_its_video_through_the_gateways_storage(
    backend: str,
    request: pytest.FixtureRequest,
    upstream: StartMock,
    xai_gateway: Callable[..., Gateway],
) -> None:
    mock = upstream("xai", require_output_upload=True)
    gateway = xai_gateway(mock, xai_output_upload=True, **storage_settings(backend, request))
    key = gateway.key(credits=100)

    task = create(gateway, key, "grok-imagine-video", {"duration": 6})
    done = gateway.wait_for(task["id"], key)

    assert done["status"] == "succeeded", done["error"]
    assert done["result"]["primary_url"] == media_url(gateway.base_url, f"results/{task['id']}/0\\.mp4")
    upload_url = mock.mock.stats.received[0].body["output"]["upload_url"]
    if backend == "local":
        expected = Matches(
            f"{gateway.base_url}/upstream-uploads/{staging_key(task['id'], 0)}" + r"\?token=[A-Za-z0-9._-]+"
        )
    else:
        expected = Matches(
            r"http://127\.0\.0\.1:\d+/media-[0-9a-f]{12}/" + staging_key(task["id"], 0) + r"\?.+"
        )
    assert upload_url == expected
    # The result came from our storage: the mock keeps no copy (its done body has no URL).
    upstream = task_row(gateway, task["id"]).upstream_result
    assert upstream is not None and upstream.assets is not None
    assert upstream.assets[0].url == "storage:" + staging_key(task["id"], 0)
    stored = httpx.get(done["result"]["primary_url"])
    assert (stored.status_code, stored.headers["content-type"]) == (200, "video/mp4")


def test_images_get_one_upload_url_each(upstream: StartMock, xai_gateway: Callable[..., Gateway]) -> None:
    mock = upstream("xai")
    gateway = xai_gateway(mock, xai_output_upload=True)
    key = gateway.key(credits=100)

    task = create(gateway, key, "grok-imagine-image", {"n": 3})
    done = gateway.wait_for(task["id"], key)

    assert done["status"] == "succeeded", done["error"]
    assert len(done["result"]["media"]) == 3
    urls = mock.mock.stats.received[0].body["output"]["upload_urls"]
    assert [u.split("?")[0] for u in urls] == [
        f"{gateway.base_url}/upstream-uploads/{staging_key(task['id'], i)}" for i in range(3)
    ]


def test_the_upload_route_takes_only_what_a_token_grants(
    upstream: StartMock, xai_gateway: Callable[..., Gateway]
) -> None:
    mock = upstream("xai")
    gateway = xai_gateway(mock, xai_output_upload=True)
    key = gateway.key(credits=100)
    task = create(gateway, key, "grok-imagine-video", {"duration": 6})
    gateway.wait_for(task["id"], key)
    granted = mock.mock.stats.received[0].body["output"]["upload_url"]
    token = granted.split("token=")[1]

    other_key = httpx.put(f"{gateway.base_url}/upstream-uploads/results/x/0.mp4?token={token}", content=b"x")
    no_token = httpx.put(granted.split("?")[0], content=b"x")
    forged = httpx.put(granted[:-3] + "abc", content=b"x")

    assert [r.status_code for r in (other_key, no_token, forged)] == [404, 404, 404]
