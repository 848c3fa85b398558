"""xAI's Grok Imagine REST API (``reference/xai-api.md``): JSON only, Bearer key.

    videos  POST /v1/videos/generations {model, prompt, duration, aspect_ratio, resolution, image?}
            GET  /v1/videos/{request_id}   202 pending (with or without a body)
                                           200 {status: done | failed | expired | pending}; 404 unknown
    images  POST /v1/images/generations {model, prompt, n: 1, aspect_ratio, deferred: true}
            POST /v1/images/edits {model, prompt, image: {url}, deferred: true}   (with a reference)
            GET  /v1/images/{request_id}   same statuses as videos

Images are requested ``deferred``, so they follow the same submit-then-poll path as videos and a
restart finds them by id. A reference image is sent as a data URL (our URLs may not be reachable
from xAI). ``enable_pro = "true"`` selects ``grok-imagine-image-quality`` for text-to-image; the
edit path has no quality model, so there it is ignored (as the catalog says).

Outcomes: ``respect_moderation: false`` (or an empty URL) -> ``content_moderated``; ``failed`` ->
``generation_failed`` with xAI's message; ``expired`` or 404 -> ``upstream_expired``.
``usage.cost_in_usd_ticks`` is reported as the task's upstream cost.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from imagine_gateway.providers.base import Job, PollOutcome, ResultAsset, SubmitAmbiguous, Submitted
from imagine_gateway.providers.config import ModelMapping, ParamRule
from imagine_gateway.providers.http import HttpProvider, UpstreamHttp, UpstreamResponse, data_url, json_body

VIDEO_RULES: Mapping[str, ParamRule] = {
    "duration": ParamRule(min=1, max=15),
    # xAI's API has no generation modes; only the plain one can be served faithfully.
    "mode": ParamRule(options=("normal",)),
    "resolution": ParamRule(options=("480p", "720p", "1080p")),
    "aspect_ratio": ParamRule(options=("1:1", "16:9", "9:16", "4:3", "3:4", "3:2", "2:3")),
}
DEFAULT_MODELS: Mapping[str, ModelMapping] = {
    "grok-imagine": ModelMapping(
        upstream_model="grok-imagine-image", quality_model="grok-imagine-image-quality"
    ),
    "grok-imagine-video": ModelMapping(upstream_model="grok-imagine-video", rules=VIDEO_RULES),
    "grok-imagine-video-1.5-preview": ModelMapping(
        upstream_model="grok-imagine-video-1.5-preview", rules=VIDEO_RULES
    ),
}


def api_root(base_url: str) -> str:
    """Accept both ``https://api.x.ai`` and ``https://api.x.ai/v1``."""
    base = base_url.rstrip("/")
    return base[: -len("/v1")] if base.endswith("/v1") else base


class XaiProvider(HttpProvider):
    """Grok Imagine images and videos from xAI (or anything serving xAI's REST shape)."""

    probe_path = "/v1/videos/imagine-gateway-probe"

    def __init__(self, *, name: str, http: UpstreamHttp, models: Mapping[str, ModelMapping]) -> None:
        super().__init__(name=name, http=http, models=models)

    # --- submit -----------------------------------------------------------------------------------

    async def submit(self, job: Job) -> Submitted:
        if job.model.output == "video":
            path, body = "/v1/videos/generations", self.video_body(job)
        else:
            path, body = self.image_request(job)
        response = await self.http.request("POST", path, role="submit", json_body=body)
        self.http.fail_for_status(response, role="submit")
        answer = json_body(self.name, response, role="submit")
        request_id = answer.get("request_id")
        if not isinstance(request_id, str) or not request_id:
            raise SubmitAmbiguous(f"{self.name} accepted the request but named no request_id: {answer}"[:500])
        return Submitted(upstream_id=request_id)

    def video_body(self, job: Job) -> dict[str, Any]:
        mapping = self.mapping(job.model)
        body: dict[str, Any] = {"model": mapping.upstream_model, "prompt": job.prompt}
        for key in ("duration", "aspect_ratio", "resolution"):
            if key in job.params:
                body[key] = int(job.params[key]) if key == "duration" else job.params[key]
        if job.references:
            # The catalog's one reference for these models is the first frame (image-to-video).
            body["image"] = {"url": data_url(job.references[0])}
        return body

    def image_request(self, job: Job) -> tuple[str, dict[str, Any]]:
        mapping = self.mapping(job.model)
        if job.references:
            body = {
                "model": mapping.upstream_model,
                "prompt": job.prompt,
                "image": {"url": data_url(job.references[0])},
                "n": 1,
                "deferred": True,
            }
            return "/v1/images/edits", body
        pro = str(job.params.get("enable_pro", "false")) == "true" and mapping.quality_model
        body = {
            "model": mapping.quality_model if pro else mapping.upstream_model,
            "prompt": job.prompt,
            "n": 1,
            "deferred": True,
        }
        if "aspect_ratio" in job.params:
            body["aspect_ratio"] = job.params["aspect_ratio"]
        return "/v1/images/generations", body

    # --- poll -------------------------------------------------------------------------------------

    async def poll(self, upstream_id: str, job: Job) -> PollOutcome:
        kind = "videos" if job.model.output == "video" else "images"
        response = await self.http.request("GET", f"/v1/{kind}/{upstream_id}", role="poll")
        if response.status_code == 404:
            return PollOutcome(
                state="failed",
                error_code="upstream_expired",
                error_message=f"{self.name} no longer knows this request (404): it expired or was removed.",
            )
        self.http.fail_for_status(response, role="poll")
        if response.status_code == 202:
            return PollOutcome(state="pending", progress=_progress(_optional_json(response)))
        return read_outcome(self.name, json_body(self.name, response, role="poll"), job)


def read_outcome(name: str, body: dict[str, Any], job: Job) -> PollOutcome:
    """An xAI-shaped status body as an outcome (shared with the xAI-compatible relays)."""
    status = body.get("status")
    cost = _cost_ticks(body)
    raw = body
    if status in ("pending", "queued", "processing", "in_progress") or (
        status is None and not body.get("video") and not body.get("data")
    ):
        return PollOutcome(state="pending", progress=_progress(body))
    if status == "failed":
        error = as_object(body.get("error"))
        message = error.get("message") or "The upstream reported the generation as failed."
        code = error.get("code")
        detail = f" ({code})" if code else ""
        return PollOutcome(
            state="failed",
            error_code="generation_failed",
            error_message=f"{name}: {message}{detail}",
            cost_ticks=cost,
            raw=raw,
        )
    if status == "expired":
        return PollOutcome(
            state="failed",
            error_code="upstream_expired",
            error_message=f"{name} reports the result as expired before it could be collected.",
            cost_ticks=cost,
            raw=raw,
        )
    if status not in (None, "done", "completed", "succeeded"):
        return PollOutcome(state="pending", progress=_progress(body), raw=raw)
    items = [body["video"]] if isinstance(body.get("video"), dict) else body.get("data")
    items = [i for i in items if isinstance(i, dict)] if isinstance(items, list) else []
    if not items:
        return PollOutcome(
            state="failed",
            error_code="generation_failed",
            error_message=f"{name} reported the generation done but returned no result.",
            cost_ticks=cost,
            raw=raw,
        )
    if any(_moderated(item) for item in items):
        return PollOutcome(
            state="failed",
            error_code="content_moderated",
            error_message=f"{name} withheld the result: it did not pass content moderation.",
            cost_ticks=cost,
            raw=raw,
        )
    kind = job.model.output
    assets = tuple(
        ResultAsset(
            url=str(item["url"]),
            kind=kind,
            mime_type=item.get("mime_type") or ("video/mp4" if kind == "video" else None),
            duration_s=_float(item.get("duration")) if kind == "video" else None,
        )
        for item in items
    )
    return PollOutcome(state="done", progress=100, assets=assets, cost_ticks=cost, raw=raw)


def as_object(value: Any) -> dict[str, Any]:
    """``value`` when it is a JSON object, else an empty one."""
    return value if isinstance(value, dict) else {}


def _moderated(item: dict[str, Any]) -> bool:
    flag = item.get("respect_moderation", True)
    return flag is False or str(flag).lower() == "false" or not item.get("url")


def _cost_ticks(body: dict[str, Any]) -> int | None:
    usage = body.get("usage")
    ticks = usage.get("cost_in_usd_ticks") if isinstance(usage, dict) else None
    return int(ticks) if isinstance(ticks, int | float) and not isinstance(ticks, bool) else None


def _progress(body: dict[str, Any] | None) -> int:
    value = (body or {}).get("progress")
    if isinstance(value, int | float) and not isinstance(value, bool):
        return max(0, min(99, int(value)))
    return 0


def _float(value: Any) -> float | None:
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def _optional_json(response: UpstreamResponse) -> dict[str, Any] | None:
    if not response.content:
        return None
    try:
        body = response.json()
    except (ValueError, UnicodeDecodeError):
        return None
    return body if isinstance(body, dict) else None
