"""The official xai-sdk through the gateway's gRPC API to xAI (the mock): generate, extend, edit, sample."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import httpx
import pytest

from imagine_gateway.providers.xai_bodies import user_id
from tests.conftest import Gateway
from tests.dialects.test_xai_grpc import (
    FAST_POLL,
    PNG_SIGNATURE,
    RESULT_IMAGE,
    RESULT_VIDEO,
    balance,
    sdk,
    tasks_of,
)
from tests.matchers import Matches, media_url
from tests.providers.conftest import StartMock
from tests.providers.xai_media import mp4, upload


def test_through_the_xai_provider_the_sdk_generates_extends_edits_and_samples(
    upstream: StartMock,
    xai_gateway: Callable[..., Gateway],
    tmp_path: Path,
) -> None:
    mock = upstream("xai")
    gateway = xai_gateway(mock, grpc_port=0)
    key = gateway.key(credits=1000)
    clip = upload(gateway, key, "video", "clip.mp4", mp4(tmp_path / "clip.mp4", 3.0), "video/mp4")

    with sdk(gateway, key.secret) as client:
        video = client.video.generate(
            prompt="Surf at dawn", model="grok-imagine-video", duration=6, interval=FAST_POLL
        )
        longer = client.video.extend(
            "The wave breaks", "grok-imagine-video", clip.url, duration=6, interval=FAST_POLL
        )
        edited = client.video.generate(
            "Make it night", "grok-imagine-video", video_url=clip.url, interval=FAST_POLL
        )
        image = client.image.sample(prompt="A harbour", model="grok-imagine-image")

    assert [r.endpoint for r in mock.mock.stats.received] == [
        "POST /v1/videos/generations",
        "POST /v1/videos/extensions",
        "POST /v1/videos/edits",
        "POST /v1/images/generations",
    ]
    assert edited.url == media_url(gateway.base_url, RESULT_VIDEO)
    assert video.url == media_url(gateway.base_url, RESULT_VIDEO)
    assert longer.url == media_url(gateway.base_url, RESULT_VIDEO)
    assert image.url == media_url(gateway.base_url, RESULT_IMAGE)
    assert httpx.get(video.url).headers["content-type"] == "video/mp4"
    assert image.image.startswith(PNG_SIGNATURE)
    user = user_id(key.account_id, gateway.settings.signing_key)
    bodies = mock.mock.stats.bodies()
    assert bodies[0] == {
        "model": "grok-imagine-video",
        "prompt": "Surf at dawn",
        "duration": 6,
        "aspect_ratio": "16:9",
        "resolution": "480p",
        "user": user,
    }
    assert (bodies[1]["prompt"], bodies[1]["duration"], bodies[1]["video"]["url"]) == (
        "The wave breaks",
        6,
        Matches(r"(https?://|data:).+"),
    )
    assert (bodies[2]["prompt"], bodies[2]["video"]["url"]) == (
        "Make it night",
        Matches(r"(https?://|data:).+"),
    )
    assert (bodies[3]["model"], bodies[3]["prompt"]) == ("grok-imagine-image", "A harbour")
    tasks = tasks_of(gateway, key)
    assert [t["status"] for t in tasks] == ["succeeded"] * 4
    spent = sum(t["final_credits"] for t in tasks)
    assert balance(gateway, key) == 1000 - spent
    assert video.cost_usd == pytest.approx(tasks[3]["final_credits"] * 0.005)
