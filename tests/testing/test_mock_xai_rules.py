"""The xAI mock refuses what xAI refuses, per model, and charges xAI's prices (xAI's API documentation)."""

from __future__ import annotations

import base64
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from imagine_gateway.providers.sandbox import render_video
from imagine_gateway.testing.mock_upstreams import MockConfig, RunningMock, start_mock

KEY = "test-key"
PNG = "data:image/png;base64," + base64.b64encode(b"\x89PNG\r\n\x1a\n").decode()
IMAGE = {"url": PNG}


@pytest.fixture(scope="module")
def xai() -> Iterator[RunningMock]:
    mock = start_mock("xai", MockConfig(api_key=KEY, generation_time_s=0.0))
    yield mock
    mock.stop()


@pytest.fixture(scope="module")
def clip_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    """A 9-second MP4 as a data URL: longer than an edit may be, fine to extend."""
    path = tmp_path_factory.mktemp("clips") / "long.mp4"
    render_video("input", 96, 64, 9.0, path, fps=2)
    return "data:video/mp4;base64," + base64.b64encode(path.read_bytes()).decode()


def post(mock: RunningMock, path: str, body: dict[str, Any]) -> httpx.Response:
    return httpx.post(
        f"{mock.base_url}{path}", json=body, headers={"Authorization": f"Bearer {KEY}"}, timeout=30
    )


def refused(code: str, message: str) -> dict[str, str]:
    return {"code": code, "error": message}


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (
            {"model": "grok-imagine-video", "prompt": "p", "resolution": "1080p"},
            refused("failed-precondition", "Resolution 1080p is not available for grok-imagine-video."),
        ),
        (
            {"model": "grok-imagine-video", "prompt": "p", "image": IMAGE, "reference_images": [IMAGE]},
            refused("invalid-argument", "image and reference_images cannot be used together."),
        ),
        (
            {"model": "grok-imagine-video-1.5", "prompt": "p", "duration": 16},
            refused("invalid-argument", "duration must be between 1 and 15; got 16."),
        ),
        (
            {"model": "grok-imagine-video", "prompt": "p", "reference_images": [IMAGE], "duration": 11},
            refused("invalid-argument", "duration is at most 10 with reference_images."),
        ),
        (
            {"model": "grok-imagine-video-1.5", "reference_images": [IMAGE], "resolution": "1080p"},
            refused("failed-precondition", "Reference-to-video is capped at 720p; got 1080p."),
        ),
        (
            {"model": "grok-imagine-video-1.5-lite", "prompt": "p", "last_frame": IMAGE},
            refused(
                "failed-precondition",
                "last_frame, keyframes and reference_audios are not available for "
                "grok-imagine-video-1.5-lite.",
            ),
        ),
        (
            {
                "model": "grok-imagine-video-1.5",
                "image": IMAGE,
                "keyframes": [{"image": IMAGE, "timestamp_s": 9}],
            },
            refused("invalid-argument", "keyframes timestamp_s must be inside the video (0 < t < 8)."),
        ),
        (
            {"model": "grok-imagine-video", "prompt": "p", "generate_audio": "yes"},
            refused("invalid-argument", "generate_audio must be a boolean."),
        ),
    ],
    ids=[
        "1080p on the classic model",
        "references + image on the classic model",
        "a 16 s 1.5 video",
        "classic references over 10 s",
        "1.5 reference-to-video at 1080p",
        "last_frame off 1.5",
        "a keyframe after the end",
        "generate_audio not a boolean",
    ],
)
def test_video_generations_refuse_what_xai_refuses(
    xai: RunningMock, body: dict[str, Any], expected: dict[str, str]
) -> None:
    xai.mock.jobs.clear()
    response = post(xai, "/v1/videos/generations", body)

    assert (response.status_code, response.json()) == (400, expected)
    assert xai.mock.jobs == {}


def test_an_edit_input_over_87_s_is_refused_and_extensions_only_take_the_classic_model(
    xai: RunningMock, clip_url: str
) -> None:
    video = {"url": clip_url}

    long_edit = post(xai, "/v1/videos/edits", {"model": "grok-imagine-video", "prompt": "p", "video": video})
    on_15 = post(
        xai, "/v1/videos/extensions", {"model": "grok-imagine-video-1.5", "prompt": "p", "video": video}
    )
    extended = post(xai, "/v1/videos/extensions", {"prompt": "p", "video": video, "duration": 3})

    assert (long_edit.status_code, long_edit.json()["code"]) == (400, "invalid-argument")
    assert long_edit.json()["error"].startswith("The input video must be at most 8.7 s long; it is 9.")
    assert (on_15.status_code, on_15.json()) == (
        400,
        refused(
            "failed-precondition",
            "grok-imagine-video-1.5 does not support video edits or extensions; use grok-imagine-video.",
        ),
    )
    assert extended.status_code == 200, extended.text


@pytest.mark.parametrize(
    ("path", "body", "expected"),
    [
        (
            "/v1/images/generations",
            {"model": "grok-imagine-image", "prompt": "p", "quality": "medium"},
            refused("failed-precondition", "quality is not available for grok-imagine-image."),
        ),
        (
            "/v1/images/edits",
            {"model": "grok-imagine-image", "prompt": "p", "images": [IMAGE] * 4},
            refused("invalid-argument", "images accepts at most 3 items; got 4."),
        ),
        (
            "/v1/images/edits",
            {"model": "grok-imagine-image-2.0", "prompt": "p", "images": [IMAGE] * 6},
            refused("invalid-argument", "images accepts at most 5 items; got 6."),
        ),
    ],
    ids=["quality off 2.0", "4 sources on 1.0", "6 sources on 2.0"],
)
def test_images_refuse_what_xai_refuses(
    xai: RunningMock, path: str, body: dict[str, Any], expected: dict[str, str]
) -> None:
    response = post(xai, path, body)

    assert (response.status_code, response.json()) == (400, expected)


def done(mock: RunningMock, path: str) -> dict[str, Any]:
    deadline = time.monotonic() + 10
    while True:
        response = httpx.get(f"{mock.base_url}{path}", headers={"Authorization": f"Bearer {KEY}"})
        if response.status_code == 200:
            body: dict[str, Any] = response.json()
            return body
        assert time.monotonic() < deadline
        time.sleep(0.05)


@pytest.mark.parametrize(
    ("body", "ticks"),
    [
        ({"model": "grok-imagine-video", "prompt": "p", "duration": 2, "resolution": "720p"}, 1_400_000_000),
        (
            {"model": "grok-imagine-video-1.5", "prompt": "p", "duration": 2, "resolution": "1080p"},
            5_000_000_000,
        ),
        ({"model": "grok-imagine-video-1.5-preview", "prompt": "p", "duration": 1}, 800_000_000),
        ({"model": "grok-imagine-video-1.5-lite", "prompt": "p", "duration": 5}, 1_000_000_000),
        ({"model": "grok-imagine-video-1.5", "image": IMAGE, "duration": 1}, 900_000_000),
    ],
    ids=["classic 720p", "1.5 1080p", "1.5 by its preview id", "lite 480p", "1.5 with an input image"],
)
def test_video_costs_follow_xais_per_second_prices(
    xai: RunningMock, body: dict[str, Any], ticks: int
) -> None:
    created = post(xai, "/v1/videos/generations", body)
    assert created.status_code == 200, created.text

    finished = done(xai, f"/v1/videos/{created.json()['request_id']}")

    assert finished["usage"] == {"cost_in_usd_ticks": ticks}


@pytest.mark.parametrize(
    ("model", "extra", "ticks"),
    [
        ("grok-imagine-image", {"n": 2}, 400_000_000),
        ("grok-imagine-image-2.0", {"resolution": "2k", "quality": "medium"}, 800_000_000),
        ("grok-imagine-image-2.0", {}, 400_000_000),
        ("grok-imagine-image-quality", {"quality": "medium", "resolution": "2k"}, 600_000_000),
    ],
    ids=["1.0 two images", "2.0 2k medium", "2.0 auto is low", "retired -quality is 2.0 low"],
)
def test_image_costs_follow_xais_prices_and_retired_ids_are_20_at_low(
    xai: RunningMock, model: str, extra: dict[str, Any], ticks: int
) -> None:
    created = post(xai, "/v1/images/generations", {"model": model, "prompt": "p", "deferred": True, **extra})
    assert created.status_code == 200, created.text

    finished = done(xai, f"/v1/images/{created.json()['request_id']}")

    assert finished["usage"] == {"cost_in_usd_ticks": ticks}


def test_a_zero_data_retention_team_must_give_an_upload_url_and_gets_the_video_put_there(
    tmp_path: Path,
) -> None:
    received: list[bytes] = []
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import Response
    from starlette.routing import Route

    from imagine_gateway.testing.loopback import LoopbackServer

    async def put(request: Request) -> Response:
        received.append(await request.body())
        return Response(status_code=200)

    sink = LoopbackServer(Starlette(routes=[Route("/put", put, methods=["PUT"])]))
    sink.start()
    media = tmp_path / "v.mp4"
    render_video("result", 96, 64, 1.0, media, fps=2)
    mock = start_mock(
        "xai", MockConfig(api_key=KEY, generation_time_s=0.0, require_output_upload=True, media_file=media)
    )
    try:
        plain = post(mock, "/v1/videos/generations", {"prompt": "p"})
        with_upload = post(
            mock, "/v1/videos/generations", {"prompt": "p", "output": {"upload_url": f"{sink.base_url}/put"}}
        )
        finished = done(mock, f"/v1/videos/{with_upload.json()['request_id']}")
    finally:
        mock.stop()
        sink.stop()

    assert (plain.status_code, plain.json()) == (
        400,
        refused(
            "invalid-argument",
            "Zero Data Retention teams must provide output.upload_url for video generation.",
        ),
    )
    assert finished["video"] == {"url": "", "duration": 8, "respect_moderation": True}
    assert received == [media.read_bytes()]
