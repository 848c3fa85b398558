"""The mock upstreams speak each documented wire shape over real HTTP, failures included."""

from __future__ import annotations

import base64
import io
import json
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import av
import httpx
import pytest
from PIL import Image
from tests.matchers import Matches

from imagine_gateway.testing.mock_upstreams import (
    MockConfig,
    RunningMock,
    create_mock_app,
    start_mock,
)

GENERATION_S = 0.2
# Long enough after a submit that a GENERATION_S job has finished.
SETTLE_S = GENERATION_S + 0.1
# A generation time no test outlives: its jobs stay pending until ``finish_now``.
SLOW_S = 60.0
KEY = "test-key"
UUID = Matches(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")

Serve = Callable[..., RunningMock]


@pytest.fixture(scope="module")
def servers() -> Iterator[dict[str, RunningMock]]:
    """One running mock per kind for the module (starting and stopping each costs ~0.2 s)."""
    running: dict[str, RunningMock] = {}
    yield running
    for upstream in running.values():
        upstream.stop()


@pytest.fixture
def serve(servers: dict[str, RunningMock]) -> Serve:
    """``serve(kind, **config)``: the mock of ``kind``, reset to a fast generation time and ``config``."""

    def start(kind: str, **config: Any) -> RunningMock:
        if kind not in servers:
            servers[kind] = start_mock(kind)
        upstream = servers[kind]
        config.setdefault("generation_time_s", GENERATION_S)
        upstream.mock.reset(MockConfig(public_base_url=upstream.base_url, **config))
        return upstream

    return start


@pytest.fixture
def client() -> Iterator[Callable[..., httpx.Client]]:
    """``client(upstream, key=KEY)``: an httpx client on the mock's base URL, closed at teardown."""
    clients: list[httpx.Client] = []

    def make(upstream: RunningMock, key: str | None = KEY, timeout_s: float = 10.0) -> httpx.Client:
        headers = {"Authorization": f"Bearer {key}"} if key is not None else {}
        made = httpx.Client(base_url=upstream.base_url, headers=headers, timeout=timeout_s)
        clients.append(made)
        return made

    yield make
    for made in clients:
        made.close()


def finish_now(upstream: RunningMock) -> None:
    """Every running job finishes at its next poll (status follows the current generation time)."""
    upstream.mock.config.generation_time_s = 0


def decode_video(data: bytes) -> tuple[int, int, int]:
    """(width, height, frames) of an MP4, decoding every frame."""
    with av.open(io.BytesIO(data), mode="r") as container:
        stream = container.streams.video[0]
        frames = len(list(container.decode(stream)))
        return stream.codec_context.width, stream.codec_context.height, frames


def decode_image(data: bytes) -> tuple[str, tuple[int, int]]:
    with Image.open(io.BytesIO(data)) as image:
        image.load()
        return image.format or "", image.size


def png_data_url(color: tuple[int, int, int]) -> str:
    buffer = io.BytesIO()
    Image.new("RGB", (64, 64), color).save(buffer, "PNG")
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode()


# --- xAI ------------------------------------------------------------------------------------------


def test_xai_video_is_pending_then_done_with_a_playable_mp4(
    serve: Serve, client: Callable[..., httpx.Client]
) -> None:
    upstream = serve("xai", generation_time_s=SLOW_S)
    api = client(upstream)

    submitted = api.post("/v1/videos/generations", json={"prompt": "a red fox", "duration": 1})
    request_id = submitted.json()["request_id"]
    pending = api.get(f"/v1/videos/{request_id}")
    finish_now(upstream)
    done = api.get(f"/v1/videos/{request_id}")

    assert (submitted.status_code, submitted.json()) == (200, {"request_id": UUID})
    assert submitted.headers["x-request-id"] == UUID
    assert (pending.status_code, pending.json()) == (
        202,
        {"status": "pending", "progress": pending.json()["progress"]},
    )
    assert 0 <= pending.json()["progress"] < 100
    video_url = f"{upstream.base_url}/media/{request_id}.mp4"
    assert (done.status_code, done.json()) == (
        200,
        {
            "status": "done",
            "video": {"url": video_url, "duration": 1, "respect_moderation": True},
            "model": "grok-imagine-video",
            "progress": 100,
            "usage": {"cost_in_usd_ticks": 500_000_000},
        },
    )
    media = httpx.get(video_url)
    assert (media.status_code, media.headers["content-type"]) == (200, "video/mp4")
    assert decode_video(media.content) == (848, 480, 12)


def test_xai_pending_poll_has_no_body_when_configured(
    serve: Serve, client: Callable[..., httpx.Client]
) -> None:
    upstream = serve("xai", pending_body=False, generation_time_s=SLOW_S)
    api = client(upstream)
    request_id = api.post("/v1/videos/generations", json={"prompt": "p"}).json()["request_id"]

    pending = api.get(f"/v1/videos/{request_id}")

    assert (pending.status_code, pending.content) == (202, b"")


def test_xai_maps_resolution_aspect_and_cost_of_a_720p_portrait_video(
    serve: Serve, client: Callable[..., httpx.Client]
) -> None:
    upstream = serve("xai")
    api = client(upstream)
    body = {
        "prompt": "p",
        "model": "grok-imagine-video-1.5",
        "seconds": "2",
        "resolution": "720p",
        "aspect_ratio": "9:16",
    }
    request_id = api.post("/v1/videos/generations", json=body).json()["request_id"]
    time.sleep(SETTLE_S)

    done = api.get(f"/v1/videos/{request_id}").json()

    assert (done["video"]["duration"], done["model"], done["usage"]) == (
        2,
        "grok-imagine-video-1.5",
        {"cost_in_usd_ticks": 2_800_000_000},
    )
    assert decode_video(httpx.get(done["video"]["url"]).content) == (720, 1280, 24)


def test_xai_video_download_honours_range(serve: Serve, client: Callable[..., httpx.Client]) -> None:
    upstream = serve("xai")
    api = client(upstream)
    request_id = api.post("/v1/videos/generations", json={"prompt": "p", "duration": 1}).json()["request_id"]
    time.sleep(SETTLE_S)
    url = api.get(f"/v1/videos/{request_id}").json()["video"]["url"]

    whole = httpx.get(url).content
    part = httpx.get(url, headers={"Range": "bytes=10-109"})

    assert (part.status_code, part.headers["content-range"], part.content) == (
        206,
        f"bytes 10-109/{len(whole)}",
        whole[10:110],
    )


def test_xai_media_of_an_unfinished_or_unknown_job_is_404(
    serve: Serve, client: Callable[..., httpx.Client]
) -> None:
    upstream = serve("xai", generation_time_s=30)
    api = client(upstream)
    request_id = api.post("/v1/videos/generations", json={"prompt": "p"}).json()["request_id"]

    unfinished = httpx.get(f"{upstream.base_url}/media/{request_id}.mp4")
    unknown = httpx.get(f"{upstream.base_url}/media/nope.mp4")

    assert [unfinished.status_code, unknown.status_code] == [404, 404]


def test_xai_images_come_back_as_urls_of_real_pngs(serve: Serve, client: Callable[..., httpx.Client]) -> None:
    upstream = serve("xai")
    api = client(upstream)

    response = api.post("/v1/images/generations", json={"prompt": "a fox", "n": 2, "aspect_ratio": "16:9"})

    assert (response.status_code, response.json()) == (
        200,
        {
            "data": [
                {
                    "url": Matches(rf"{upstream.base_url}/media/{UUID.pattern.pattern}_0\.png"),
                    "mime_type": "image/png",
                },
                {
                    "url": Matches(rf"{upstream.base_url}/media/{UUID.pattern.pattern}_1\.png"),
                    "mime_type": "image/png",
                },
            ],
            "usage": {"cost_in_usd_ticks": 400_000_000},
        },
    )
    decoded = [decode_image(httpx.get(item["url"]).content) for item in response.json()["data"]]
    assert decoded == [("PNG", (1280, 720)), ("PNG", (1280, 720))]


def test_xai_b64_json_images_are_bare_base64_pngs(serve: Serve, client: Callable[..., httpx.Client]) -> None:
    api = client(serve("xai"))

    response = api.post("/v1/images/generations", json={"prompt": "a fox", "response_format": "b64_json"})

    item = response.json()["data"][0]
    assert (response.status_code, sorted(item), item["mime_type"]) == (
        200,
        ["b64_json", "mime_type"],
        "image/png",
    )
    assert decode_image(base64.b64decode(item["b64_json"], validate=True)) == ("PNG", (1024, 1024))


def test_xai_deferred_images_are_polled_until_done(serve: Serve, client: Callable[..., httpx.Client]) -> None:
    upstream = serve("xai", generation_time_s=SLOW_S)
    api = client(upstream)
    request_id = api.post("/v1/images/generations", json={"prompt": "p", "deferred": True}).json()[
        "request_id"
    ]

    pending = api.get(f"/v1/images/{request_id}")
    finish_now(upstream)
    done = api.get(f"/v1/images/{request_id}")

    assert (pending.status_code, pending.json()) == (202, {"request_id": request_id, "status": "pending"})
    assert (done.status_code, done.json()) == (
        200,
        {
            "request_id": request_id,
            "status": "done",
            "data": [{"url": f"{upstream.base_url}/media/{request_id}_0.png", "mime_type": "image/png"}],
            "usage": {"cost_in_usd_ticks": 200_000_000},
        },
    )


def test_xai_image_edit_draws_on_the_source_image(serve: Serve, client: Callable[..., httpx.Client]) -> None:
    api = client(serve("xai"))
    body = {"prompt": "make it pop", "image": {"url": png_data_url((200, 0, 0))}}

    response = api.post("/v1/images/edits", json=body)

    png = httpx.get(response.json()["data"][0]["url"]).content
    with Image.open(io.BytesIO(png)) as image:
        centre = image.convert("RGB").getpixel((image.width // 2, image.height // 2))
    assert response.json()["usage"] == {"cost_in_usd_ticks": 220_000_000}
    assert centre == (200, 0, 0)


@pytest.mark.parametrize(
    ("path", "body", "status", "expected"),
    [
        (
            "/v1/videos/generations",
            {"prompt": "p", "duration": 16},
            400,
            {"code": "invalid-argument", "error": "duration must be between 1 and 15; got 16."},
        ),
        (
            "/v1/videos/generations",
            {
                "prompt": "p",
                "image": {"url": "https://x/a.png"},
                "reference_images": [{"url": "https://x/b.png"}],
            },
            400,
            {"code": "invalid-argument", "error": "image and reference_images cannot be used together."},
        ),
        (
            "/v1/videos/generations",
            {"prompt": "p", "model": "grok-9"},
            404,
            {
                "code": "not-found",
                "error": "The model grok-9 does not exist or your team does not have access to it.",
            },
        ),
        (
            "/v1/videos/generations",
            {"duration": 5},
            400,
            {"code": "invalid-argument", "error": "prompt is required."},
        ),
        (
            "/v1/videos/generations",
            {"prompt": "p", "aspect_ratio": "5:4"},
            400,
            {
                "code": "invalid-argument",
                "error": "aspect_ratio must be one of 1:1, 16:9, 9:16, 4:3, 3:4, 3:2, 2:3; got '5:4'.",
            },
        ),
        (
            "/v1/videos/extensions",
            {"prompt": "p", "video": {"url": "https://x/v.mp4"}, "duration": 11},
            400,
            {"code": "invalid-argument", "error": "duration must be between 2 and 10; got 11."},
        ),
        (
            "/v1/images/generations",
            {"prompt": "p", "n": 11},
            400,
            {"code": "invalid-argument", "error": "n must be between 1 and 10; got 11."},
        ),
        (
            "/v1/images/edits",
            {"prompt": "p", "image": {"url": "https://x/a.png"}, "images": [{"url": "https://x/b.png"}]},
            400,
            {"code": "invalid-argument", "error": "Send either image or images, not both."},
        ),
    ],
)
def test_xai_rejects_invalid_requests_in_its_error_shape(
    serve: Serve,
    client: Callable[..., httpx.Client],
    path: str,
    body: dict[str, Any],
    status: int,
    expected: dict[str, str],
) -> None:
    upstream = serve("xai")

    response = client(upstream).post(path, json=body)

    assert (response.status_code, response.json()) == (status, expected)
    assert upstream.mock.jobs == {}


def test_xai_rejects_multipart_bodies(serve: Serve, client: Callable[..., httpx.Client]) -> None:
    api = client(serve("xai"))

    response = api.post(
        "/v1/images/edits", data={"prompt": "p"}, files={"image": ("a.png", b"\x89PNG", "image/png")}
    )

    assert (response.status_code, response.json()["code"]) == (400, "invalid-argument")
    assert response.json()["error"].startswith(
        "Content-Type must be application/json, got 'multipart/form-data"
    )


def test_xai_answers_a_missing_key_with_401_and_a_wrong_key_with_400(
    serve: Serve, client: Callable[..., httpx.Client]
) -> None:
    upstream = serve("xai")

    missing = client(upstream, key=None).post("/v1/videos/generations", json={"prompt": "p"})
    wrong = client(upstream, key="xai-wrong").post("/v1/videos/generations", json={"prompt": "p"})

    assert (missing.status_code, missing.json()["code"]) == (401, "unauthenticated")
    assert (wrong.status_code, wrong.json()) == (
        400,
        {
            "code": "Client specified an invalid argument",
            "error": "Incorrect API key provided: xa***ng. You can obtain an API key from https://console.x.ai.",
        },
    )


def test_xai_unknown_request_id_is_404(serve: Serve, client: Callable[..., httpx.Client]) -> None:
    response = client(serve("xai")).get("/v1/videos/does-not-exist")

    assert (response.status_code, response.json()) == (
        404,
        {"code": "not-found", "error": "No video request with id does-not-exist."},
    )


@pytest.mark.parametrize(
    ("failure", "status", "body", "retry_after"),
    [
        (
            "http_500",
            500,
            {"code": "internal", "error": "The service encountered an internal error. Please retry."},
            None,
        ),
        (
            "http_429",
            429,
            {"code": "resource-exhausted", "error": "Too many requests. Please retry later."},
            "3",
        ),
    ],
)
def test_xai_http_failures_have_the_documented_shape(
    serve: Serve,
    client: Callable[..., httpx.Client],
    failure: str,
    status: int,
    body: dict[str, str],
    retry_after: str | None,
) -> None:
    upstream = serve("xai", failure=failure, retry_after_s=3)

    response = client(upstream).post("/v1/videos/generations", json={"prompt": "p"})

    assert (response.status_code, response.json(), response.headers.get("retry-after")) == (
        status,
        body,
        retry_after,
    )
    assert upstream.mock.jobs == {}


def test_xai_garbage_json_is_a_200_that_does_not_parse(
    serve: Serve, client: Callable[..., httpx.Client]
) -> None:
    response = client(serve("xai", failure="garbage_json")).post(
        "/v1/videos/generations", json={"prompt": "p"}
    )

    assert (response.status_code, response.headers["content-type"]) == (200, "application/json")
    with pytest.raises(json.JSONDecodeError):
        response.json()


def test_xai_reset_drops_the_connection_without_a_response(
    serve: Serve, client: Callable[..., httpx.Client]
) -> None:
    upstream = serve("xai", failure="reset")

    with pytest.raises((httpx.ReadError, httpx.RemoteProtocolError)):
        client(upstream).post("/v1/videos/generations", json={"prompt": "p"})
    assert upstream.mock.stats.faults == {"reset": 1}


def test_xai_timeout_outlasts_the_client_timeout(serve: Serve, client: Callable[..., httpx.Client]) -> None:
    upstream = serve("xai", failure="timeout")

    with pytest.raises(httpx.ReadTimeout):
        client(upstream, timeout_s=0.3).post("/v1/videos/generations", json={"prompt": "p"})


def test_xai_timeout_serves_the_request_after_hang_s(
    serve: Serve, client: Callable[..., httpx.Client]
) -> None:
    upstream = serve("xai", failure="timeout", hang_s=0.3)

    started = time.monotonic()
    response = client(upstream).post("/v1/videos/generations", json={"prompt": "p"})

    assert (response.status_code, list(upstream.mock.jobs)) == (200, [response.json()["request_id"]])
    assert time.monotonic() - started >= 0.3


@pytest.mark.parametrize(
    ("failure", "expected"),
    [
        (
            "failed",
            {"status": "failed", "error": {"code": "internal_error", "message": "Video generation failed."}},
        ),
        ("expired", {"status": "expired"}),
        (
            "moderation",
            {
                "status": "done",
                "video": {"url": "", "duration": 1, "respect_moderation": False},
                "model": "grok-imagine-video",
                "progress": 100,
                "usage": {"cost_in_usd_ticks": 500_000_000},
            },
        ),
    ],
)
def test_xai_jobs_end_in_the_configured_outcome_and_offer_no_media(
    serve: Serve, client: Callable[..., httpx.Client], failure: str, expected: dict[str, Any]
) -> None:
    upstream = serve("xai", failure=failure)
    api = client(upstream)
    request_id = api.post("/v1/videos/generations", json={"prompt": "p", "duration": 1}).json()["request_id"]
    time.sleep(SETTLE_S)

    polled = api.get(f"/v1/videos/{request_id}")

    assert (polled.status_code, polled.json()) == (200, expected)
    assert httpx.get(f"{upstream.base_url}/media/{request_id}.mp4").status_code == 404


def test_fail_times_fails_the_first_requests_then_recovers(
    serve: Serve, client: Callable[..., httpx.Client]
) -> None:
    upstream = serve("xai", failure="http_500", fail_times=2)
    api = client(upstream)

    statuses = [api.post("/v1/videos/generations", json={"prompt": "p"}).status_code for _ in range(4)]

    assert statuses == [500, 500, 200, 200]


def test_fail_times_limits_outcome_failures_to_the_first_jobs(
    serve: Serve, client: Callable[..., httpx.Client]
) -> None:
    upstream = serve("xai", failure="failed", fail_times=1)
    api = client(upstream)
    ids = [api.post("/v1/videos/generations", json={"prompt": "p"}).json()["request_id"] for _ in range(2)]
    time.sleep(SETTLE_S)

    statuses = [api.get(f"/v1/videos/{request_id}").json()["status"] for request_id in ids]

    assert statuses == ["failed", "done"]


def test_poll_failures_flipped_mid_run_hit_polls_only(
    serve: Serve, client: Callable[..., httpx.Client]
) -> None:
    upstream = serve("xai", generation_time_s=SLOW_S)
    api = client(upstream)
    request_id = api.post("/v1/videos/generations", json={"prompt": "p"}).json()["request_id"]

    upstream.mock.config.failure = "http_429"
    upstream.mock.config.failure_on = "poll"
    polled = api.get(f"/v1/videos/{request_id}")
    submitted = api.post("/v1/videos/generations", json={"prompt": "p"})
    upstream.mock.config.failure = "none"
    recovered = api.get(f"/v1/videos/{request_id}")

    assert [polled.status_code, submitted.status_code, recovered.status_code] == [429, 200, 202]


def test_stats_count_requests_per_endpoint_and_job_and_keep_bodies(
    serve: Serve, client: Callable[..., httpx.Client]
) -> None:
    upstream = serve("xai")
    api = client(upstream)
    body = {"prompt": "p", "duration": 3, "aspect_ratio": "1:1"}
    request_id = api.post("/v1/videos/generations", json=body).json()["request_id"]
    for _ in range(3):
        api.get(f"/v1/videos/{request_id}")

    stats = upstream.mock.stats

    assert stats.by_endpoint == {"POST /v1/videos/generations": 1, "GET /v1/videos/{request_id}": 3}
    assert stats.by_job == {request_id: 4}
    assert stats.bodies() == [body]
    assert (stats.received[0].job_id, stats.received[0].headers["authorization"]) == (
        request_id,
        f"Bearer {KEY}",
    )


def test_media_bytes_pads_videos_that_still_decode(serve: Serve, client: Callable[..., httpx.Client]) -> None:
    upstream = serve("xai", media_bytes=3_000_000)
    api = client(upstream)
    request_id = api.post("/v1/videos/generations", json={"prompt": "p", "duration": 1}).json()["request_id"]
    time.sleep(SETTLE_S)

    media = httpx.get(api.get(f"/v1/videos/{request_id}").json()["video"]["url"])

    assert len(media.content) == 3_000_000
    assert decode_video(media.content) == (848, 480, 12)


def test_media_file_is_served_for_every_video(
    serve: Serve, client: Callable[..., httpx.Client], tmp_path: Path
) -> None:
    media_file = tmp_path / "given.mp4"
    media_file.write_bytes(b"not really a video, but served verbatim")
    upstream = serve("xai", media_file=media_file)
    api = client(upstream)
    request_id = api.post("/v1/videos/generations", json={"prompt": "p"}).json()["request_id"]
    time.sleep(SETTLE_S)

    media = httpx.get(f"{upstream.base_url}/media/{request_id}.mp4")

    assert media.content == media_file.read_bytes()


def test_share_media_renders_one_video_for_all_jobs_of_a_size(
    serve: Serve, client: Callable[..., httpx.Client]
) -> None:
    upstream = serve("xai", share_media=True)
    api = client(upstream)
    ids = [
        api.post("/v1/videos/generations", json={"prompt": prompt, "duration": 1}).json()["request_id"]
        for prompt in ("first", "second")
    ]
    time.sleep(SETTLE_S)

    downloads = [httpx.get(f"{upstream.base_url}/media/{request_id}.mp4").content for request_id in ids]

    assert downloads[0] == downloads[1]
    assert decode_video(downloads[0]) == (848, 480, 12)


# --- xAI-compatible relays (and Dubrify) ----------------------------------------------------


def test_relay_passes_xai_bodies_through(serve: Serve, client: Callable[..., httpx.Client]) -> None:
    upstream = serve("xai_compatible", generation_time_s=SLOW_S)
    api = client(upstream)
    body = {
        "model": "grok-imagine-video",
        "prompt": "p",
        "duration": 1,
        "aspect_ratio": "16:9",
        "resolution": "480p",
    }

    submitted = api.post("/v1/videos/generations", json=body)
    request_id = submitted.json()["request_id"]
    pending = api.get(f"/v1/videos/{request_id}")
    finish_now(upstream)
    done = api.get(f"/v1/videos/{request_id}")

    assert submitted.json() == {"request_id": Matches(r"grok_video_[0-9a-f]{32}")}
    assert (pending.status_code, pending.json()["status"]) == (200, "pending")
    assert (done.status_code, done.json()) == (
        200,
        {
            "status": "done",
            "model": "grok-imagine-video",
            "video": {
                "url": f"{upstream.base_url}/media/{request_id}.mp4",
                "duration": 1,
                "respect_moderation": True,
            },
            "progress": 100,
            "usage": {"cost_in_usd_ticks": 500_000_000},  # billed as xAI bills: 1 s at $0.05
        },
    )
    assert decode_video(httpx.get(done.json()["video"]["url"]).content) == (848, 480, 12)


def test_dubrify_style_has_no_status_when_done_and_string_fields(
    serve: Serve, client: Callable[..., httpx.Client]
) -> None:
    upstream = serve("xai_compatible", dubrify_style=True, generation_time_s=SLOW_S)
    api = client(upstream)
    body = {
        "model": "grok-imagine-video",
        "prompt": "p",
        "duration": 2,
        "resolution": "720p",
        "aspect_ratio": "1:1",
    }

    request_id = api.post("/v1/videos", json=body).json()["request_id"]
    pending = api.get(f"/v1/videos/{request_id}")
    finish_now(upstream)
    done = api.get(f"/v1/videos/{request_id}")

    assert pending.json() == {"status": "pending"}
    assert done.json() == {
        "model": "grok-imagine-video",
        "video": {
            "url": f"{upstream.base_url}/media/{request_id}.mp4",
            "duration": "2",
            "respect_moderation": "true",
        },
    }
    assert decode_video(httpx.get(done.json()["video"]["url"]).content) == (720, 720, 24)


def test_dubrify_style_moderation_withholds_the_url(
    serve: Serve, client: Callable[..., httpx.Client]
) -> None:
    api = client(serve("xai_compatible", dubrify_style=True, failure="moderation"))
    request_id = api.post("/v1/videos", json={"model": "grok-imagine-video", "prompt": "p"}).json()[
        "request_id"
    ]
    time.sleep(SETTLE_S)

    done = api.get(f"/v1/videos/{request_id}")

    assert done.json() == {
        "model": "grok-imagine-video",
        "video": {"url": "", "duration": "6", "respect_moderation": "false"},
    }


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"prompt": "p"}, "model is required."),
        (
            {
                "model": "grok-imagine-video",
                "prompt": "p",
                "image": {"url": "u"},
                "reference_images": [{"url": "v"}],
            },
            "image cannot be used together with reference_images.",
        ),
    ],
)
def test_relay_errors_use_the_openai_envelope(
    serve: Serve, client: Callable[..., httpx.Client], body: dict[str, Any], message: str
) -> None:
    response = client(serve("xai_compatible")).post("/v1/videos/generations", json=body)

    assert (response.status_code, response.json()) == (
        400,
        {"error": {"message": message, "type": "invalid_request_error", "code": "invalid_request"}},
    )


def test_relay_rejects_a_wrong_key(serve: Serve, client: Callable[..., httpx.Client]) -> None:
    response = client(serve("xai_compatible"), key="nope").post("/v1/videos", json={})

    assert (response.status_code, response.json()) == (
        401,
        {
            "error": {
                "message": "Invalid API key.",
                "type": "invalid_request_error",
                "code": "invalid_api_key",
            }
        },
    )


# --- grokimagineapi.com --------------------------------------------------------------------------


def test_grokimagineapi_task_goes_pending_processing_completed(
    serve: Serve, client: Callable[..., httpx.Client]
) -> None:
    # Pending for the first fifth of the generation time (1 s: room for a loaded machine), then processing.
    upstream = serve("grokimagineapi", generation_time_s=5.0)
    api = client(upstream)
    body = {"mode": "fun", "prompt": "mountains", "ratio": "2:3"}

    submitted = api.post("/v1/generate", json=body)
    submitted_at = time.time()
    task_id = submitted.json()["data"]["task_id"]
    statuses = [api.get("/v1/status", params={"task_id": task_id}).json()["data"]["status"]]
    time.sleep(1.1)
    statuses.append(api.get("/v1/status", params={"task_id": task_id}).json()["data"]["status"])
    finish_now(upstream)
    completed = api.get("/v1/status", params={"task_id": task_id})
    completed_at = time.time()

    assert submitted.json() == {
        "code": 200,
        "message": "success",
        "data": {"task_id": Matches(r"task_[0-9a-f]{32}")},
    }
    assert statuses == ["pending", "processing"]
    assert completed.json() == {
        "code": 200,
        "message": "success",
        "data": {
            "consumed_credits": 40,
            "created_at": Matches(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ"),
            "status": "completed",
            "task_id": task_id,
            "request": body,
            "response": [f"{upstream.base_url}/media/{task_id}.mp4"],
        },
    }
    assert decode_video(httpx.get(completed.json()["data"]["response"][0]).content) == (480, 720, 72)
    # Each reset lies ahead of the moment its answer arrived (not of the end of this test).
    for response, received_at in ((submitted, submitted_at), (completed, completed_at)):
        assert int(response.headers["x-ratelimit-remaining"]) < 1000
        assert int(response.headers["x-ratelimit-reset"]) > received_at


@pytest.mark.parametrize(
    ("config", "key", "body", "status", "expected"),
    [
        (
            {},
            KEY,
            {"mode": "fun", "ratio": "1:1"},
            400,
            {
                "code": 400,
                "message": "Invalid request: The prompt parameter is required",
                "error": "INVALID_REQUEST",
            },
        ),
        (
            {},
            "wrong",
            {"prompt": "p"},
            401,
            {"code": 401, "message": "Unauthorized: The API token is invalid", "error": "UNAUTHORIZED"},
        ),
        (
            {"failure": "http_500"},
            KEY,
            {"prompt": "p"},
            500,
            {
                "code": 500,
                "message": "Internal server error: The service encountered an internal error. Please retry.",
                "error": "INTERNAL_ERROR",
            },
        ),
    ],
)
def test_grokimagineapi_errors_carry_the_http_status_in_the_body(
    serve: Serve,
    client: Callable[..., httpx.Client],
    config: dict[str, Any],
    key: str,
    body: dict[str, Any],
    status: int,
    expected: dict[str, Any],
) -> None:
    response = client(serve("grokimagineapi", **config), key=key).post("/v1/generate", json=body)

    assert (response.status_code, response.json()) == (status, expected)
    assert "x-ratelimit-remaining" in response.headers


def test_grokimagineapi_429_reports_no_remaining_requests(
    serve: Serve, client: Callable[..., httpx.Client]
) -> None:
    response = client(serve("grokimagineapi", failure="http_429")).post("/v1/generate", json={"prompt": "p"})

    assert (
        response.status_code,
        response.headers["retry-after"],
        response.headers["x-ratelimit-remaining"],
    ) == (
        429,
        "1",
        "0",
    )
    assert response.json()["error"] == "RATE_LIMIT_EXCEEDED"


@pytest.mark.parametrize(("failure", "status"), [("failed", "failed"), ("moderation", "completed")])
def test_grokimagineapi_unsuccessful_tasks_have_no_result_urls(
    serve: Serve, client: Callable[..., httpx.Client], failure: str, status: str
) -> None:
    api = client(serve("grokimagineapi", failure=failure))
    task_id = api.post("/v1/generate", json={"prompt": "p"}).json()["data"]["task_id"]
    time.sleep(SETTLE_S)

    data = api.get("/v1/status", params={"task_id": task_id}).json()["data"]

    assert (data["status"], data["response"]) == (status, [])


# --- Rivya (native shape) -------------------------------------------------------------------------

ISO_MS = Matches(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z")


def test_rivya_task_goes_queued_processing_succeeded(
    serve: Serve, client: Callable[..., httpx.Client]
) -> None:
    # Queued for the first fifth of the generation time (0.4 s), then processing.
    upstream = serve("rivya", generation_time_s=2.0)
    api = client(upstream)
    body = {
        "model": "grok-imagine",
        "prompt": "a fox",
        "params": {"aspect_ratio": "16:9", "enable_pro": "true"},
    }

    created = api.post("/api/v1/generations", json=body)
    task_id = created.json()["id"]
    time.sleep(0.5)
    processing = api.get(f"/api/v1/generations/{task_id}")
    finish_now(upstream)
    succeeded = api.get(f"/api/v1/generations/{task_id}")

    common = {
        "id": task_id,
        "model": "grok-imagine",
        "reserved_credits": 4,
        "created_at": ISO_MS,
        "updated_at": ISO_MS,
    }
    assert (created.status_code, created.json()) == (
        202,
        {**common, "status": "queued", "final_credits": 0, "result": None, "error": None},
    )
    assert processing.json() == {
        **common,
        "status": "processing",
        "final_credits": 0,
        "result": None,
        "error": None,
    }
    url = f"{upstream.base_url}/media/{task_id}_0.png"
    assert succeeded.json() == {
        **common,
        "status": "succeeded",
        "final_credits": 4,
        "result": {"primary_url": url, "urls": [url]},
        "error": None,
    }
    assert decode_image(httpx.get(url).content) == ("PNG", (1280, 720))


def test_rivya_video_task_serves_an_mp4(serve: Serve, client: Callable[..., httpx.Client]) -> None:
    api = client(serve("rivya"))
    body = {"model": "grok-imagine-video", "prompt": "p", "params": {"duration": 6, "aspect_ratio": "9:16"}}
    task_id = api.post("/api/v1/generations", json=body).json()["id"]
    time.sleep(SETTLE_S)

    task = api.get(f"/api/v1/generations/{task_id}").json()

    assert (task["status"], task["final_credits"]) == ("succeeded", 10)
    assert decode_video(httpx.get(task["result"]["primary_url"]).content) == (480, 848, 72)


def test_rivya_idempotency_key_replays_the_task_and_rejects_a_different_body(
    serve: Serve, client: Callable[..., httpx.Client]
) -> None:
    upstream = serve("rivya")
    api = client(upstream)
    headers = {"Idempotency-Key": "order-123"}
    body = {"model": "z-image", "prompt": "p"}

    first = api.post("/api/v1/generations", json=body, headers=headers)
    again = api.post("/api/v1/generations", json=body, headers=headers)
    other = api.post("/api/v1/generations", json={**body, "prompt": "q"}, headers=headers)

    assert (again.status_code, again.json()["id"]) == (202, first.json()["id"])
    assert list(upstream.mock.jobs) == [first.json()["id"]]
    assert (other.status_code, other.json()) == (
        409,
        {
            "error": {
                "code": "idempotency_conflict",
                "message": "This Idempotency-Key was already used with a different request body.",
                "requestId": other.headers["x-request-id"],
            }
        },
    )


@pytest.mark.parametrize(
    ("key", "body", "status", "code", "message"),
    [
        (
            None,
            {"model": "z-image", "prompt": "p"},
            401,
            "api_key_missing",
            "A valid Bearer API key is required.",
        ),
        ("nope", {"model": "z-image", "prompt": "p"}, 401, "api_key_invalid", "The API key is not valid."),
        (
            KEY,
            {"model": "z-image", "prompt": "p", "params": {"seed": 3}},
            400,
            "validation_failed",
            "params.seed is not a parameter of this model; allowed: aspect_ratio, referenceMediaItems.",
        ),
        (
            KEY,
            {"model": "grok-imagine-video", "prompt": "p", "params": {"duration": 5}},
            400,
            "validation_failed",
            "params.duration must be an integer between 6 and 30.",
        ),
    ],
)
def test_rivya_errors_use_the_native_envelope(
    serve: Serve,
    client: Callable[..., httpx.Client],
    key: str | None,
    body: dict[str, Any],
    status: int,
    code: str,
    message: str,
) -> None:
    response = client(serve("rivya"), key=key).post("/api/v1/generations", json=body)

    assert (response.status_code, response.json()) == (
        status,
        {"error": {"code": code, "message": message, "requestId": Matches(r"req_[0-9a-f]{24}")}},
    )


@pytest.mark.parametrize(
    ("failure", "error"),
    [
        ("failed", {"code": "generation_failed", "message": "The generation failed."}),
        (
            "moderation",
            {"code": "content_moderated", "message": "The result was withheld by content moderation."},
        ),
    ],
)
def test_rivya_failed_tasks_carry_an_error_and_no_charge(
    serve: Serve, client: Callable[..., httpx.Client], failure: str, error: dict[str, str]
) -> None:
    api = client(serve("rivya", failure=failure))
    task_id = api.post("/api/v1/generations", json={"model": "z-image", "prompt": "p"}).json()["id"]
    time.sleep(SETTLE_S)

    task = api.get(f"/api/v1/generations/{task_id}").json()

    assert (task["status"], task["final_credits"], task["result"], task["error"]) == (
        "failed",
        0,
        None,
        error,
    )


# --- serving --------------------------------------------------------------------------------------


def test_unknown_kind_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown mock upstream 'sora'"):
        create_mock_app("sora")


def test_stop_returns_promptly_while_a_request_hangs(
    serve: Serve, client: Callable[..., httpx.Client]
) -> None:
    upstream = start_mock("xai", MockConfig(failure="timeout", failure_on="poll"))
    with pytest.raises(httpx.ReadTimeout):
        client(upstream, timeout_s=0.2).get("/v1/videos/x")

    started = time.monotonic()
    upstream.stop()

    assert time.monotonic() - started < 2.0


def test_control_endpoints_flip_failures_and_report_requests_per_job(
    serve: Serve, client: Callable[..., httpx.Client]
) -> None:
    upstream = serve("xai")
    api = client(upstream)
    request_id = api.post("/v1/videos/generations", json={"prompt": "p"}).json()["request_id"]
    api.get(f"/v1/videos/{request_id}")

    patched = httpx.patch(f"{upstream.base_url}/_mock/config", json={"failure": "http_500", "fail_times": 1})
    failed = api.post("/v1/videos/generations", json={"prompt": "p"})
    stats = httpx.get(f"{upstream.base_url}/_mock/stats", params={"jobs": 1})

    assert (patched.status_code, patched.json()["failure"], patched.json()["fail_times"]) == (
        200,
        "http_500",
        1,
    )
    assert failed.status_code == 500
    assert stats.json() == {
        "kind": "xai",
        "jobs": 1,
        "requests": 3,
        "by_endpoint": {"POST /v1/videos/generations": 2, "GET /v1/videos/{request_id}": 1},
        "faults": {"http_500": 1},
        "requests_per_job": {"min": 2, "mean": 2.0, "max": 2},
        "by_job": {request_id: 2},
    }


def test_control_config_accepts_every_setting_it_shows_and_rejects_bad_values(serve: Serve) -> None:
    upstream = serve("xai")
    url = f"{upstream.base_url}/_mock/config"
    shown = httpx.get(url).json()

    same = httpx.patch(url, json=shown)
    bad_mode = httpx.patch(url, json={"failure": "meltdown"})
    bad_type = httpx.patch(url, json={"generation_time_s": "fast"})

    assert (same.status_code, same.json()) == (200, shown)
    assert (bad_mode.status_code, bad_type.status_code) == (400, 400)
    assert upstream.mock.config.failure == "none"
