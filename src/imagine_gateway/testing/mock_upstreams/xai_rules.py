"""What the xAI mock accepts per model and what it charges (xAI's API documentation, as of 2026-12-01).

Written from xAI's documents, not from the gateway's catalog, so a test fails when the gateway
sends what xAI would refuse: 1080p on the classic model, references + image on the classic model,
``last_frame``/``keyframes``/``reference_audios`` off 1.5, a 16 s video, an edit input over 8.7 s,
more than 3 (1.0) or 5 (2.0) edit sources, ``quality`` off 2.0. A value a model does not serve is
``failed-precondition``; a malformed one ``invalid-argument``.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import tempfile
from pathlib import Path
from typing import Any

import httpx

from imagine_gateway.testing.mock_upstreams import params
from imagine_gateway.testing.mock_upstreams.plumbing import MockError
from imagine_gateway.testing.mock_upstreams.state import Job

CLASSIC = "grok-imagine-video"
V15 = "grok-imagine-video-1.5"
LITE = "grok-imagine-video-1.5-lite"
VIDEO_MODELS = {
    CLASSIC: CLASSIC,
    V15: V15,
    "grok-imagine-video-1.5-preview": V15,
    "grok-imagine-video-1.5-2026-05-30": V15,
    LITE: LITE,
}
IMAGE_V1 = "grok-imagine-image"
IMAGE_V2 = "grok-imagine-image-2.0"
# Retired ids are served by 2.0 at low quality (the response names 2.0).
IMAGE_MODELS = {
    IMAGE_V1: IMAGE_V1,
    IMAGE_V2: IMAGE_V2,
    "grok-imagine-image-quality": IMAGE_V2,
    "grok-imagine-image-pro": IMAGE_V2,
    "grok-2-image-1212": IMAGE_V1,
}
RETIRED_IMAGE_MODELS = frozenset({"grok-imagine-image-quality", "grok-imagine-image-pro"})
RESOLUTIONS = {CLASSIC: ("480p", "720p"), V15: ("480p", "720p", "1080p"), LITE: ("480p", "720p", "1080p")}
REFERENCE_RESOLUTIONS = ("480p", "720p")
EDIT_SOURCES_MAX = {IMAGE_V1: 3, IMAGE_V2: 5}
EDIT_INPUT_MAX_S = 8.7
EXTEND_INPUT_S = (2.0, 15.0)

TICKS_PER_USD = 10_000_000_000
_CENT = TICKS_PER_USD // 100
# Per second of output, by model and resolution ([R] prices; lite above 480p is the mock's guess).
VIDEO_TICKS_PER_S = {
    (CLASSIC, "480p"): 5 * _CENT,
    (CLASSIC, "720p"): 7 * _CENT,
    (V15, "480p"): 8 * _CENT,
    (V15, "720p"): 14 * _CENT,
    (V15, "1080p"): 25 * _CENT,
    (LITE, "480p"): 2 * _CENT,
    (LITE, "720p"): 4 * _CENT,
    (LITE, "1080p"): 6 * _CENT,
}
VIDEO_INPUT_IMAGE_TICKS = {CLASSIC: _CENT // 5, V15: _CENT, LITE: _CENT}
VIDEO_INPUT_TICKS_PER_S = _CENT
# Per image, by (model, quality, resolution); 1.0 has one price.
IMAGE_TICKS = {
    (IMAGE_V2, "low", "1k"): 4 * _CENT,
    (IMAGE_V2, "medium", "1k"): 6 * _CENT,
    (IMAGE_V2, "low", "1.5k"): 5 * _CENT,
    (IMAGE_V2, "medium", "1.5k"): 7 * _CENT,
    (IMAGE_V2, "low", "2k"): 6 * _CENT,
    (IMAGE_V2, "medium", "2k"): 8 * _CENT,
}
IMAGE_V1_TICKS = 2 * _CENT
IMAGE_INPUT_TICKS = {IMAGE_V1: _CENT // 5, IMAGE_V2: _CENT}


def precondition(message: str) -> MockError:
    return MockError(400, message, "failed-precondition")


def check_video(model: str, body: dict[str, Any]) -> dict[str, Any]:
    """The checked ``/v1/videos/generations`` body: mode, references and settings; or a MockError."""
    family = VIDEO_MODELS[model]
    image = body.get("image", body.get("input_reference"))
    first = params.media_ref(image, "image") if image is not None else None
    references = params.media_refs(body, "reference_images", max_items=7)
    last = params.media_ref(body["last_frame"], "last_frame") if body.get("last_frame") is not None else None
    keyframes = _keyframes(body)
    audios = params.media_refs(body, "reference_audios", max_items=3)
    if family != V15 and (last or keyframes or audios):
        raise precondition(f"last_frame, keyframes and reference_audios are not available for {model}.")
    if family == CLASSIC and first is not None and references:
        raise MockError(400, "image and reference_images cannot be used together.")
    if family == LITE and references:
        raise precondition(f"reference_images is not available for {model}.")
    guided = bool(references or last or keyframes)
    prompt = params.text(body, "prompt", required=not (first or guided), max_chars=4096)
    duration_key = "duration" if "duration" in body else "seconds"
    duration = params.integer(body, duration_key, 1, 15, 8, strings=True)
    if family == CLASSIC and references and duration > 10:
        raise MockError(400, "duration is at most 10 with reference_images.")
    resolution = params.choice(body, "resolution", ("480p", "720p", "1080p"), "480p")
    if resolution not in RESOLUTIONS[family]:
        raise precondition(f"Resolution {resolution} is not available for {model}.")
    if guided and resolution not in REFERENCE_RESOLUTIONS:
        raise precondition(f"Reference-to-video is capped at 720p; got {resolution}.")
    for t in (k["timestamp_s"] for k in keyframes):
        if not 0 < t < duration:
            raise MockError(400, f"keyframes timestamp_s must be inside the video (0 < t < {duration}).")
    aspect_ratio = params.choice(
        body, "aspect_ratio", ("1:1", "16:9", "9:16", "4:3", "3:4", "3:2", "2:3"), "16:9"
    )
    if body.get("generate_audio") is not None and not isinstance(body["generate_audio"], bool):
        raise MockError(400, "generate_audio must be a boolean.")
    images = [u for u in [first, *references, last, *(k["url"] for k in keyframes)] if u]
    return {
        "family": family,
        "prompt": prompt,
        "duration": duration,
        "resolution": resolution,
        "aspect_ratio": aspect_ratio,
        "images": images,
    }


def _keyframes(body: dict[str, Any]) -> list[dict[str, Any]]:
    value = body.get("keyframes")
    if value is None:
        return []
    if not isinstance(value, list) or not value or len(value) > 4:
        raise MockError(400, "keyframes must be an array of 1 to 4 items.")
    out = []
    for index, item in enumerate(value):
        if not isinstance(item, dict) or item.get("image") is None:
            raise MockError(400, f"keyframes[{index}].image is required.")
        stamp = item.get("timestamp_s")
        if isinstance(stamp, bool) or not isinstance(stamp, int | float):
            raise MockError(400, f"keyframes[{index}].timestamp_s must be a number.")
        out.append(
            {"url": params.media_ref(item["image"], f"keyframes[{index}].image"), "timestamp_s": stamp}
        )
    return out


def check_source_model(model: str) -> None:
    if VIDEO_MODELS[model] != CLASSIC:
        raise precondition(f"{model} does not support video edits or extensions; use {CLASSIC}.")


async def input_video_seconds(url: str) -> float | None:
    """The length of an input video (data URL or loopback URL), or None when it cannot be read."""
    data = await _fetch(url)
    if data is None:
        return None
    from imagine_gateway.media.probe import probe_file

    def probe() -> float | None:
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / "input.mp4"
            path.write_bytes(data)
            try:
                return probe_file(path, expected_kind="video", field="video").duration_s
            except Exception:
                return None

    return await asyncio.to_thread(probe)


async def _fetch(url: str) -> bytes | None:
    if url.startswith("data:"):
        _, comma, payload = url.partition(",")
        try:
            return base64.b64decode(payload, validate=True) if comma else None
        except (binascii.Error, ValueError):
            return None
    if not url.startswith(("http://127.0.0.1", "http://localhost")):
        return None
    try:
        async with httpx.AsyncClient(timeout=10) as client:
            response = await client.get(url)
    except httpx.HTTPError:
        return None
    return response.content if response.status_code == 200 else None


async def upload_once(job: Job, files: list[Path], urls: list[str], content_type: str) -> None:
    """PUT each result to its upload URL the first time the job is seen done (as xAI does)."""
    if job.extra.get("uploaded"):
        return
    async with httpx.AsyncClient(timeout=30) as client:
        for path, url in zip(files, urls, strict=False):
            response = await client.put(
                url, content=path.read_bytes(), headers={"Content-Type": content_type}
            )
            if response.status_code >= 300:
                raise MockError(
                    500, f"Uploading the result to output.upload_url failed: {response.status_code}."
                )
    job.extra["uploaded"] = True


def check_image_settings(model: str, body: dict[str, Any], *, edit: bool) -> tuple[str, str]:
    """``(quality, resolution)`` as served; quality is 2.0's only."""
    family = IMAGE_MODELS[model]
    resolution = params.choice(body, "resolution", ("1k", "1.5k", "2k"), "1k")
    if family != IMAGE_V2:
        if body.get("quality") is not None:
            raise precondition(f"quality is not available for {model}.")
        return "standard", resolution
    quality = params.choice(body, "quality", ("low", "medium", "auto"), "auto")
    if model in RETIRED_IMAGE_MODELS:
        quality = "low"
    if quality == "auto":
        quality = "medium" if edit else "low"
    return quality, resolution


def video_cost_ticks(family: str, resolution: str, duration_s: float, images: int, input_s: float) -> int:
    per_s = VIDEO_TICKS_PER_S[(family, resolution)]
    return (
        int(per_s * duration_s)
        + VIDEO_INPUT_IMAGE_TICKS[family] * images
        + int(VIDEO_INPUT_TICKS_PER_S * input_s)
    )


def image_cost_ticks(family: str, quality: str, resolution: str, count: int, sources: int) -> int:
    each = IMAGE_V1_TICKS if family == IMAGE_V1 else IMAGE_TICKS[(family, quality, resolution)]
    return each * count + IMAGE_INPUT_TICKS[family] * sources
