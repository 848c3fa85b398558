"""Every catalog model in every mode, through the native API and the xai provider, against the mock.

Each case asserts the exact body xAI receives (docs/providers.md has the same table), that the task
succeeds with as many results as were asked for, and what it was charged.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from imagine_gateway.catalog.loader import load_catalog
from imagine_gateway.providers.registry import media_urls_reachable
from imagine_gateway.providers.xai_bodies import user_id
from imagine_gateway.settings import load_settings
from tests.conftest import Gateway
from tests.matchers import media_url
from tests.providers.conftest import StartMock
from tests.providers.xai_media import Uploaded, mp4, png, upload, wav

Files = dict[str, Uploaded]
PROMPT = "A lighthouse at dusk"


def ref(file: Uploaded, kind: str = "image", role: str | None = None, **extra: Any) -> dict[str, Any]:
    item: dict[str, Any] = {"url": file.url, "kind": kind}
    if role is not None:
        item["role"] = role
    return {**item, **extra}


def url(file: Uploaded) -> dict[str, str]:
    return {"url": file.data_url}


Case = Callable[[Files], tuple[str, dict[str, Any], str, dict[str, Any]]]
CASES: dict[str, Case] = {
    "grok-imagine text-to-image": lambda f: (
        "grok-imagine",
        {},
        "POST /v1/images/generations",
        {"model": "grok-imagine-image", "prompt": PROMPT, "n": 1, "aspect_ratio": "1:1", "deferred": True},
    ),
    "grok-imagine enable_pro (2.0 at low quality)": lambda f: (
        "grok-imagine",
        {"enable_pro": "true", "aspect_ratio": "16:9"},
        "POST /v1/images/generations",
        {
            "model": "grok-imagine-image-2.0",
            "prompt": PROMPT,
            "n": 1,
            "aspect_ratio": "16:9",
            "quality": "low",
            "deferred": True,
        },
    ),
    "grok-imagine image-edit": lambda f: (
        "grok-imagine",
        {"referenceMediaItems": [ref(f["img1"])]},
        "POST /v1/images/edits",
        {"model": "grok-imagine-image", "prompt": PROMPT, "image": url(f["img1"]), "n": 1, "deferred": True},
    ),
    "grok-imagine-video text-to-video": lambda f: (
        "grok-imagine-video",
        {"duration": 6, "resolution": "720p"},
        "POST /v1/videos/generations",
        {
            "model": "grok-imagine-video",
            "prompt": PROMPT,
            "duration": 6,
            "aspect_ratio": "2:3",
            "resolution": "720p",
        },
    ),
    "grok-imagine-video image-to-video": lambda f: (
        "grok-imagine-video",
        {"duration": 6, "referenceMediaItems": [ref(f["img1"])]},
        "POST /v1/videos/generations",
        {
            "model": "grok-imagine-video",
            "prompt": PROMPT,
            "duration": 6,
            "aspect_ratio": "2:3",
            "resolution": "480p",
            "image": url(f["img1"]),
        },
    ),
    "grok-imagine-video reference-to-video": lambda f: (
        "grok-imagine-video",
        {"duration": 6, "referenceMediaItems": [ref(f["img1"], role="reference")]},
        "POST /v1/videos/generations",
        {
            "model": "grok-imagine-video",
            "prompt": PROMPT,
            "duration": 6,
            "aspect_ratio": "2:3",
            "resolution": "480p",
            "reference_images": [url(f["img1"])],
        },
    ),
    "grok-imagine-video video-edit": lambda f: (
        "grok-imagine-video",
        {"referenceMediaItems": [ref(f["clip"], "video", "edit")]},
        "POST /v1/videos/edits",
        {"model": "grok-imagine-video", "prompt": PROMPT, "video": url(f["clip"])},
    ),
    "grok-imagine-video video-extension": lambda f: (
        "grok-imagine-video",
        {"duration": 6, "referenceMediaItems": [ref(f["long"], "video", "extend")]},
        "POST /v1/videos/extensions",
        {"model": "grok-imagine-video", "prompt": PROMPT, "video": url(f["long"]), "duration": 6},
    ),
    "grok-imagine-video-1.5 text-to-video 1080p, silent, audio reference": lambda f: (
        "grok-imagine-video-1.5",
        {
            "duration": 2,
            "resolution": "1080p",
            "generate_audio": False,
            "referenceMediaItems": [ref(f["song"], "audio")],
        },
        "POST /v1/videos/generations",
        {
            "model": "grok-imagine-video-1.5",
            "prompt": PROMPT,
            "duration": 2,
            "aspect_ratio": "16:9",
            "resolution": "1080p",
            "generate_audio": False,
            "reference_audios": [url(f["song"])],
        },
    ),
    "grok-imagine-video-1.5 image-to-video 1080p": lambda f: (
        "grok-imagine-video-1.5",
        {"duration": 2, "resolution": "1080p", "referenceMediaItems": [ref(f["img1"])]},
        "POST /v1/videos/generations",
        {
            "model": "grok-imagine-video-1.5",
            "prompt": PROMPT,
            "duration": 2,
            "aspect_ratio": "16:9",
            "resolution": "1080p",
            "image": url(f["img1"]),
        },
    ),
    "grok-imagine-video-1.5 reference-to-video with first, last and key frames": lambda f: (
        "grok-imagine-video-1.5",
        {
            "duration": 3,
            "resolution": "720p",
            "referenceMediaItems": [
                ref(f["img1"], role="first_frame"),
                ref(f["img2"], role="reference"),
                ref(f["img3"], role="reference"),
                ref(f["img4"], role="last_frame"),
                ref(f["img5"], role="keyframe", timestampSeconds=1.5),
            ],
        },
        "POST /v1/videos/generations",
        {
            "model": "grok-imagine-video-1.5",
            "prompt": PROMPT,
            "duration": 3,
            "aspect_ratio": "16:9",
            "resolution": "720p",
            "image": url(f["img1"]),
            "reference_images": [url(f["img2"]), url(f["img3"])],
            "last_frame": url(f["img4"]),
            "keyframes": [{"image": url(f["img5"]), "timestamp_s": 1.5}],
        },
    ),
    "grok-imagine-video-1.5-preview alias": lambda f: (
        "grok-imagine-video-1.5-preview",
        {"duration": 1},
        "POST /v1/videos/generations",
        {
            "model": "grok-imagine-video-1.5",
            "prompt": PROMPT,
            "duration": 1,
            "aspect_ratio": "16:9",
            "resolution": "480p",
        },
    ),
    "grok-imagine-video-1.5-lite text-to-video 1080p": lambda f: (
        "grok-imagine-video-1.5-lite",
        {"duration": 1, "resolution": "1080p", "aspect_ratio": "9:16"},
        "POST /v1/videos/generations",
        {
            "model": "grok-imagine-video-1.5-lite",
            "prompt": PROMPT,
            "duration": 1,
            "aspect_ratio": "9:16",
            "resolution": "1080p",
        },
    ),
    "grok-imagine-video-1.5-lite image-to-video": lambda f: (
        "grok-imagine-video-1.5-lite",
        {"duration": 1, "referenceMediaItems": [ref(f["img1"])]},
        "POST /v1/videos/generations",
        {
            "model": "grok-imagine-video-1.5-lite",
            "prompt": PROMPT,
            "duration": 1,
            "aspect_ratio": "16:9",
            "resolution": "480p",
            "image": url(f["img1"]),
        },
    ),
    "grok-imagine-image text-to-image, 2 images in one call": lambda f: (
        "grok-imagine-image",
        {"n": 2, "resolution": "2k", "aspect_ratio": "16:9"},
        "POST /v1/images/generations",
        {
            "model": "grok-imagine-image",
            "prompt": PROMPT,
            "n": 2,
            "aspect_ratio": "16:9",
            "resolution": "2k",
            "deferred": True,
        },
    ),
    "grok-imagine-image image-edit of 3 sources": lambda f: (
        "grok-imagine-image",
        {"aspect_ratio": "1:1", "referenceMediaItems": [ref(f["img1"]), ref(f["img2"]), ref(f["img3"])]},
        "POST /v1/images/edits",
        {
            "model": "grok-imagine-image",
            "prompt": PROMPT,
            "images": [url(f["img1"]), url(f["img2"]), url(f["img3"])],
            "n": 1,
            "aspect_ratio": "1:1",
            "deferred": True,
        },
    ),
    "grok-imagine-image-2.0 text-to-image 2k medium": lambda f: (
        "grok-imagine-image-2.0",
        {"resolution": "2k", "quality": "medium"},
        "POST /v1/images/generations",
        {
            "model": "grok-imagine-image-2.0",
            "prompt": PROMPT,
            "n": 1,
            "resolution": "2k",
            "quality": "medium",
            "deferred": True,
        },
    ),
    "grok-imagine-image-2.0 image-edit of 5 sources": lambda f: (
        "grok-imagine-image-2.0",
        {"referenceMediaItems": [ref(f[f"img{i}"]) for i in range(1, 6)]},
        "POST /v1/images/edits",
        {
            "model": "grok-imagine-image-2.0",
            "prompt": PROMPT,
            "images": [url(f[f"img{i}"]) for i in range(1, 6)],
            "n": 1,
            "deferred": True,
        },
    ),
    "grok-imagine-image-quality alias (2.0 at low quality)": lambda f: (
        "grok-imagine-image-quality",
        {"quality": "medium"},
        "POST /v1/images/generations",
        {"model": "grok-imagine-image-2.0", "prompt": PROMPT, "n": 1, "quality": "low", "deferred": True},
    ),
}


@pytest.fixture(scope="module")
def media_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("inputs")


def files_of(gateway: Gateway, key: Any, media_dir: Path) -> Files:
    files = {
        f"img{i}": upload(gateway, key, "image", f"i{i}.png", png(40 * i), "image/png") for i in range(1, 6)
    }
    files["clip"] = upload(gateway, key, "video", "clip.mp4", mp4(media_dir / "clip.mp4", 1.0), "video/mp4")
    files["long"] = upload(gateway, key, "video", "long.mp4", mp4(media_dir / "long.mp4", 3.0), "video/mp4")
    files["song"] = upload(gateway, key, "audio", "song.wav", wav(), "audio/wav")
    return files


# The mocks serve one 1 s clip for every video: a video priced per second settles to that second
# (at its resolution, plus its input images); every other case captures what it reserved.
SETTLED_TO_ONE_SECOND = {
    "grok-imagine-video-1.5 text-to-video 1080p, silent, audio reference": 50,
    "grok-imagine-video-1.5 image-to-video 1080p": 52,
    "grok-imagine-video-1.5 reference-to-video with first, last and key frames": 38,
}


@pytest.mark.parametrize("case", list(CASES))
def test_each_model_and_mode_reaches_xai_as_xai_documents_it(
    case: str,
    upstream: StartMock,
    xai_gateway: Callable[..., Gateway],
    media_dir: Path,
) -> None:
    mock = upstream("xai")
    gateway = xai_gateway(mock)
    key = gateway.key(credits=1000)
    files = files_of(gateway, key, media_dir)
    model, params, endpoint, expected = CASES[case](files)

    response = gateway.http.post(
        "/api/v1/generations", headers=key.headers, json={"model": model, "prompt": PROMPT, "params": params}
    )
    assert response.status_code == 202, response.text
    task = response.json()
    done = gateway.wait_for(task["id"], key)

    assert done["status"] == "succeeded", done["error"]
    assert len(done["result"]["media"]) == int(params.get("n", 1))
    assert done["final_credits"] == SETTLED_TO_ONE_SECOND.get(case, task["reserved_credits"])
    expected["user"] = user_id(key.account_id, gateway.settings.signing_key)
    assert [(r.endpoint, r.body) for r in mock.mock.stats.received] == [(endpoint, expected)]


def test_every_model_and_mode_of_the_catalog_has_a_case_above() -> None:
    wanted = {f"{model.id} {mode.name}" for model in load_catalog() for mode in model.modes}
    assert {w for w in wanted if not any(name.startswith(w) for name in CASES)} == set()


def test_an_edit_of_a_video_over_87_s_fails_before_anything_is_sent_and_is_refunded(
    upstream: StartMock, xai_gateway: Callable[..., Gateway], media_dir: Path
) -> None:
    mock = upstream("xai")
    gateway = xai_gateway(mock)
    key = gateway.key(credits=100)
    long = upload(gateway, key, "video", "long.mp4", mp4(media_dir / "nine.mp4", 9.0), "video/mp4")

    response = gateway.http.post(
        "/api/v1/generations",
        headers=key.headers,
        json={
            "model": "grok-imagine-video",
            "prompt": PROMPT,
            "params": {"referenceMediaItems": [ref(long, "video", "edit")]},
        },
    )
    assert response.status_code == 202, response.text
    done = gateway.wait_for(response.json()["id"], key)

    assert (done["status"], done["error"]) == (
        "failed",
        {
            "code": "validation_failed",
            "message": "The input video is 9.0 s; grok-imagine-video takes 0 to 8.7 s for video-edit. "
            "Nothing was sent upstream.",
        },
    )
    assert gateway.http.get("/api/v1/credits", headers=key.headers).json()["balance"] == 100
    assert mock.mock.stats.total == 0


def test_with_reachable_media_urls_references_go_as_signed_gateway_urls(
    upstream: StartMock, xai_gateway: Callable[..., Gateway]
) -> None:
    mock = upstream("xai")
    gateway = xai_gateway(mock, upstream_media_urls="always")
    key = gateway.key(credits=1000)
    first = upload(gateway, key, "image", "first.png", png(10), "image/png")

    response = gateway.http.post(
        "/api/v1/generations",
        headers=key.headers,
        json={
            "model": "grok-imagine-video-1.5",
            "params": {"duration": 1, "referenceMediaItems": [ref(first)]},
        },
    )
    assert response.status_code == 202, response.text
    done = gateway.wait_for(response.json()["id"], key)

    assert done["status"] == "succeeded", done["error"]
    sent = mock.mock.stats.received[0].body["image"]["url"]
    assert sent == media_url(gateway.base_url, r"uploads/file_[A-Za-z0-9_-]+\.png")
    # The URL works for whoever holds it (xAI fetches it), until the upload expires.
    assert httpx.get(sent).content == first.data
    assert "prompt" not in mock.mock.stats.received[0].body


@pytest.mark.parametrize(
    ("setting", "base_url", "urls"),
    [
        ("auto", "http://127.0.0.1:8000", False),
        ("auto", "https://localhost", False),
        ("auto", "https://10.1.2.3", False),
        ("auto", "https://gateway.internal", False),
        ("auto", "https://media", False),
        ("auto", "https://gateway.example.com", True),
        ("auto", "https://203.0.113.9", False),
        ("auto", "https://8.8.8.8", True),
        ("always", "http://127.0.0.1:8000", True),
        ("never", "https://gateway.example.com", False),
    ],
)
def test_auto_sends_urls_only_when_the_public_base_url_is_https_on_a_public_host(
    tmp_path: Path, setting: str, base_url: str, urls: bool
) -> None:
    settings = load_settings(home=tmp_path, public_base_url=base_url, upstream_media_urls=setting)

    assert media_urls_reachable(settings) is urls
