"""The request bodies xAI documents, per mode (xAI's API documentation; docs/providers.md has the table).

    text-to-video        POST /v1/videos/generations {model, prompt, duration, aspect_ratio, resolution}
    image-to-video       ... + image: {url}  (prompt optional; no aspect_ratio: the image decides)
    reference-to-video   ... + reference_images: [{url}] (1-7), and on 1.5 also image (a pinned first
                         frame), last_frame: {url}, keyframes: [{image: {url}, timestamp_s}]
    audio references     reference_audios: [{url}] (1.5)
    video-edit           POST /v1/videos/edits {model, prompt, video: {url}}
    video-extension      POST /v1/videos/extensions {model, prompt, video: {url}, duration}
    text-to-image        POST /v1/images/generations {model, prompt, n, deferred, aspect_ratio?,
                         resolution?, quality?}
    image-edit           POST /v1/images/edits ... image: {url} (one source) | images: [{url}] (several)

Every body may also carry ``generate_audio`` (videos, when the request gave it), ``user`` (a stable
HMAC of the gateway's account id, so xAI can attribute abuse to one end customer instead of the
operator's whole team) and ``output`` (the bring-your-own-storage upload URL(s)).
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from imagine_gateway.catalog.contract import ModelContract, ModeSpec
from imagine_gateway.catalog.modes import default_role, select_mode
from imagine_gateway.providers.base import Job, ProviderRejected, ReferenceInput
from imagine_gateway.providers.config import ModelMapping
from imagine_gateway.providers.http import data_url

VIDEO_PATHS = {
    "generations": "/v1/videos/generations",
    "edits": "/v1/videos/edits",
    "extensions": "/v1/videos/extensions",
}
IMAGE_PATHS = {"generations": "/v1/images/generations", "edits": "/v1/images/edits"}


@dataclass(frozen=True)
class WireOptions:
    """How a provider dresses its requests: media as URLs or inline, and the ``user`` id's key."""

    # True: the gateway's signed media URLs (xAI fetches them); False: data URLs in the body.
    media_urls: bool = False
    # Key of the HMAC that turns an account id into xAI's ``user``; None: no ``user`` is sent.
    user_key: bytes | None = None


def user_id(account_id: str, key: bytes) -> str:
    """A stable id of one account that does not reveal the account id (HMAC-SHA256, 32 hex)."""
    return "igw_" + hmac.new(key, account_id.encode(), hashlib.sha256).hexdigest()[:32]


def role_of(model: ModelContract, ref: ReferenceInput) -> str:
    return ref.role or default_role(model, ref.kind)


def job_mode(job: Job) -> ModeSpec | None:
    """The mode the job's reference files put it in (None for a model without modes)."""
    if not job.model.modes:
        return None
    mode = select_mode(job.model, [role_of(job.model, r) for r in job.references])
    if mode is None:
        raise ProviderRejected(f"{job.model.id} has no mode for these reference files.")
    return mode


def media(ref: ReferenceInput, options: WireOptions) -> dict[str, str]:
    """``{"url": ...}``: our signed URL when xAI can fetch it, else the bytes as a data URL."""
    if options.media_urls and ref.url:
        return {"url": ref.url}
    return {"url": data_url(ref)}


def video_request(
    job: Job, mapping: ModelMapping, options: WireOptions, upload_urls: Sequence[str] = ()
) -> tuple[str, dict[str, Any]]:
    """``(path, body)`` of a video job, by its mode."""
    mode = job_mode(job)
    endpoint = mode.endpoint if mode is not None else "generations"
    ignores = set(mode.ignores) if mode is not None else set()
    body: dict[str, Any] = {"model": mapping.upstream_model}
    if job.prompt or (mode is not None and mode.prompt_required) or mode is None:
        body["prompt"] = job.prompt
    refs = [(role_of(job.model, r), r) for r in job.references]
    if endpoint == "generations":
        for key in ("duration", "aspect_ratio", "resolution"):
            if key in job.params and key not in ignores:
                body[key] = int(job.params[key]) if key == "duration" else job.params[key]
        _frames(body, refs, options)
        if "generate_audio" in job.params:
            body["generate_audio"] = str(job.params["generate_audio"]) == "true"
    else:
        source = next((r for role, r in refs if role in ("edit", "extend")), None)
        if source is None:
            raise ProviderRejected(f"A video {endpoint[:-1]} needs the video to work on.")
        body["video"] = media(source, options)
        if endpoint == "extensions" and "duration" in job.params:
            body["duration"] = int(job.params["duration"])
    _common(body, job, options, upload_urls, video=True)
    return VIDEO_PATHS[endpoint], body


def _frames(body: dict[str, Any], refs: list[tuple[str, ReferenceInput]], options: WireOptions) -> None:
    by_role: dict[str, list[ReferenceInput]] = {}
    for role, ref in refs:
        by_role.setdefault(role, []).append(ref)
    if "first_frame" in by_role:
        body["image"] = media(by_role["first_frame"][0], options)
    if "reference" in by_role:
        body["reference_images"] = [media(r, options) for r in by_role["reference"]]
    if "last_frame" in by_role:
        body["last_frame"] = media(by_role["last_frame"][0], options)
    if "keyframe" in by_role:
        body["keyframes"] = [
            {"image": media(r, options), "timestamp_s": r.timestamp_s} for r in by_role["keyframe"]
        ]
    if "audio" in by_role:
        body["reference_audios"] = [media(r, options) for r in by_role["audio"]]


def image_request(
    job: Job, mapping: ModelMapping, options: WireOptions, upload_urls: Sequence[str] = ()
) -> tuple[str, dict[str, Any]]:
    """``(path, body)`` of an image job: ``n`` images in one deferred call."""
    mode = job_mode(job)
    sources = [r for r in job.references if role_of(job.model, r) == "source"]
    edit = bool(sources) if mode is None else mode.endpoint == "edits"
    model = mapping.upstream_model
    params = dict(job.params)
    pro = str(params.pop("enable_pro", "false")) == "true"
    if pro and not edit and mapping.quality_model:
        # The seed's quality switch: xAI's quality model is now 2.0 at low quality.
        model = mapping.quality_model
        params["quality"] = "low"
    body: dict[str, Any] = {"model": model, "prompt": job.prompt}
    if edit:
        if len(sources) == 1:
            body["image"] = media(sources[0], options)
        else:
            body["images"] = [media(r, options) for r in sources]
    body["n"] = int(params.get("n", 1))
    # A single-image edit takes its aspect ratio from the image (xAI: aspect_ratio is multi-image only).
    keys: tuple[str, ...] = ("resolution", "quality")
    if not edit or len(sources) > 1:
        keys = ("aspect_ratio", *keys)
    for key in keys:
        if params.get(key) is not None:
            body[key] = params[key]
    body["deferred"] = True
    _common(body, job, options, upload_urls, video=False)
    return IMAGE_PATHS["edits" if edit else "generations"], body


def _common(
    body: dict[str, Any], job: Job, options: WireOptions, upload_urls: Sequence[str], *, video: bool
) -> None:
    if options.user_key is not None and job.account_id:
        body["user"] = user_id(job.account_id, options.user_key)
    if upload_urls:
        body["output"] = {"upload_url": upload_urls[0]} if video else {"upload_urls": list(upload_urls)}
