"""xAI's shape in, xAI (the mock) out: the official ``openai`` package and plain xAI REST calls make a
1.5 1080p video and a 2.0 2k image, and what xAI would refuse is refused before credits are reserved."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from openai import OpenAI

from imagine_gateway.providers.xai_bodies import user_id
from tests.conftest import Gateway, Key
from tests.matchers import media_url
from tests.providers.conftest import StartMock, balance


def poll_video(gateway: Gateway, key: Key, request_id: str) -> dict[str, Any]:
    deadline = time.monotonic() + 30
    while True:
        response = gateway.http.get(f"/v1/videos/{request_id}", headers=key.headers)
        if response.status_code == 200:
            body: dict[str, Any] = response.json()
            return body
        assert response.status_code == 202 and time.monotonic() < deadline, response.text
        time.sleep(0.05)


def test_the_openai_package_makes_a_15_1080p_video_and_a_20_2k_image_through_xai(
    upstream: StartMock, xai_gateway: Callable[..., Gateway]
) -> None:
    mock = upstream("xai")
    gateway = xai_gateway(mock)
    key = gateway.key(credits=1000)
    user = user_id(key.account_id, gateway.settings.signing_key)

    with OpenAI(base_url=f"{gateway.base_url}/v1", api_key=key.secret, max_retries=0) as client:
        created = client.post(
            "/videos/generations",
            body={"model": "grok-imagine-video-1.5", "prompt": "Surf", "duration": 2, "resolution": "1080p"},
            cast_to=httpx.Response,
        )
        image = client.images.generate(
            model="grok-imagine-image-2.0",
            prompt="A harbour",
            extra_body={"resolution": "2k", "quality": "medium"},
        )
    request_id = created.json()["request_id"]
    done = poll_video(gateway, key, request_id)

    assert done == {
        "status": "done",
        "video": {
            "url": media_url(gateway.base_url, f"results/{request_id}/0\\.mp4"),
            "duration": 1,
            "respect_moderation": True,
        },
        "model": "grok-imagine-video-1.5",
        "progress": 100,
    }
    assert image.data is not None and len(image.data) == 1
    assert image.data[0].url == media_url(gateway.base_url, r"results/task_[A-Za-z0-9_-]{20}/0\.png")
    assert mock.mock.stats.bodies() == [
        {
            "model": "grok-imagine-video-1.5",
            "prompt": "Surf",
            "duration": 2,
            "aspect_ratio": "16:9",
            "resolution": "1080p",
            "user": user,
        },
        {
            "model": "grok-imagine-image-2.0",
            "prompt": "A harbour",
            "n": 1,
            "resolution": "2k",
            "quality": "medium",
            "deferred": True,
            "user": user,
        },
    ]
    # 2 s x 50 credits of 1.5 reserved, settled to the 1 s clip delivered; and one 2.0 image.
    assert balance(gateway, key) == 1000 - 50 - 16


def test_xai_rest_calls_make_the_same_through_the_dialect_with_aliases(
    upstream: StartMock, xai_gateway: Callable[..., Gateway]
) -> None:
    mock = upstream("xai")
    gateway = xai_gateway(mock)
    key = gateway.key(credits=1000)

    video = gateway.http.post(
        "/v1/videos/generations",
        headers=key.headers,
        json={
            "model": "grok-imagine-video-1.5-preview",
            "prompt": "Surf",
            "seconds": "1",
            "resolution": "1080p",
        },
    )
    image = gateway.http.post(
        "/v1/images/generations",
        headers=key.headers,
        json={"model": "grok-imagine-image-pro", "prompt": "A harbour", "resolution": "2k", "n": 2},
    )

    assert video.status_code == 200, video.text
    assert poll_video(gateway, key, video.json()["request_id"])["model"] == "grok-imagine-video-1.5"
    assert image.status_code == 200, image.text
    assert len(image.json()["data"]) == 2
    bodies = mock.mock.stats.bodies()
    # In either order: the worker may submit the image (which its caller waits for) first.
    assert {(b["model"], b.get("resolution"), b.get("quality"), b.get("n")) for b in bodies} == {
        ("grok-imagine-video-1.5", "1080p", None, None),
        ("grok-imagine-image-2.0", "2k", "low", 2),
    }
    assert len(bodies) == 2


REFS = [{"url": "https://example.com/a.png"}]
CLASSIC = {"model": "grok-imagine-video", "prompt": "x"}


@pytest.mark.parametrize(
    ("path", "body", "code", "param"),
    [
        ("/v1/videos/generations", {"model": "grok-imagine-video", "prompt": "x", "resolution": "1080p"},
         "failed_precondition", "resolution"),
        ("/v1/videos/generations", {"model": "grok-imagine-video-1.5", "prompt": "x", "duration": 16},
         "invalid_argument", "duration"),
        ("/v1/videos/generations",
         {"model": "grok-imagine-video-1.5", "reference_images": REFS, "resolution": "1080p"},
         "failed_precondition", "resolution"),
        ("/v1/videos/generations",
         {**CLASSIC, "reference_images": REFS, "duration": 12},
         "invalid_argument", "duration"),
        ("/v1/videos/generations",
         {"model": "grok-imagine-video-1.5-lite", "prompt": "x", "last_frame": {"url": "https://e.x/a.png"}},
         "failed_precondition", "last_frame"),
        ("/v1/videos/generations", {"model": "grok-imagine-video-1.5"}, "invalid_argument", "prompt"),
        ("/v1/videos/generations", {"model": "grok-imagine-video", "prompt": "x", "generate_audio": "no"},
         "invalid_argument", "generate_audio"),
        ("/v1/videos/generations",
         {"model": "grok-imagine-video", "prompt": "x", "output": {"upload_url": "https://e.x/put"}},
         "invalid_argument", "output"),
        ("/v1/videos/generations", {**CLASSIC, "storage_options": {"filename": "a"}},
         "invalid_argument", "storage_options"),
        ("/v1/images/generations", {"model": "grok-imagine-image", "prompt": "x", "quality": "medium"},
         "failed_precondition", "quality"),
        ("/v1/images/generations", {"model": "grok-imagine-image-2.0", "prompt": "x", "resolution": "4k"},
         "invalid_argument", "resolution"),
        ("/v1/images/edits",
         {"model": "grok-imagine-image-2.0", "prompt": "x", "images": REFS * 6},
         "invalid_argument", "images"),
        ("/v1/videos/edits", {"prompt": "x", "video": {"url": "https://e.x/v.mp4"}, "duration": 5},
         "invalid_argument", "duration"),
        ("/v1/videos/extensions", {"prompt": "x", "video": {"url": "https://e.x/v.mp4"}, "duration": 11},
         "invalid_argument", "duration"),
    ],
)  # fmt: skip
def test_what_xai_refuses_is_refused_in_its_codes_before_anything_is_reserved(
    upstream: StartMock,
    xai_gateway: Callable[..., Gateway],
    path: str,
    body: dict[str, Any],
    code: str,
    param: str,
) -> None:
    mock = upstream("xai")
    gateway = xai_gateway(mock)
    key = gateway.key(credits=1000)

    response = gateway.http.post(path, headers=key.headers, json=body)

    assert response.status_code == 400, response.text
    error = response.json()["error"]
    assert (error["code"], error["param"], error["type"]) == (code, param, "invalid_request_error")
    assert error["message"].startswith(f"{param}: ")
    assert balance(gateway, key) == 1000
    assert mock.mock.stats.total == 0
