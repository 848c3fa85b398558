"""xAI's Grok Imagine REST API (as xAI's API documentation describes it): JSON only, Bearer key.

    videos  POST /v1/videos/generations | /v1/videos/edits | /v1/videos/extensions  -> {request_id}
            GET  /v1/videos/{request_id}   202 pending (with or without a body)
                                           200 {status: done | failed | expired | pending}; 404 unknown
    images  POST /v1/images/generations | /v1/images/edits {..., n, deferred: true} -> {request_id}
            GET  /v1/images/{request_id}   same statuses as videos

The body of each mode is built in ``xai_bodies`` (docs/providers.md has the table). Images are
requested ``deferred`` with all ``n`` images in one call, so they follow the same submit-then-poll
path as videos and a restart finds them by id. What a model serves in each mode (resolutions,
durations, which reference files) is the catalog's ``modes``: a request outside them is refused at
routing, so xAI never answers ``failed_precondition``.

With an ``OutputTarget`` (bring-your-own-storage), the body carries ``output.upload_url(s)``: xAI
PUTs the result into the gateway's storage and the collect step reads it from there.

Outcomes: ``respect_moderation: false`` (or an empty URL), or ``failed`` with ``invalid_argument``
naming moderation -> ``content_moderated``; other ``failed`` -> ``generation_failed`` with xAI's
message; ``expired`` or 404 -> ``upstream_expired``. ``usage.cost_in_usd_ticks`` is reported as the
task's upstream cost.
"""

from __future__ import annotations

import asyncio
import tempfile
from collections.abc import AsyncIterator, Mapping
from pathlib import Path
from typing import Any

from imagine_gateway.catalog.contract import ModelContract
from imagine_gateway.catalog.modes import RoleUse, default_role, mode_issues
from imagine_gateway.providers.base import (
    Job,
    PollOutcome,
    ProviderRejected,
    ResultAsset,
    SubmitAmbiguous,
    Submitted,
)
from imagine_gateway.providers.config import ModelMapping, ParamRule
from imagine_gateway.providers.http import (
    HttpProvider,
    UpstreamHttp,
    UpstreamResponse,
    error_message,
    json_body,
)
from imagine_gateway.providers.upstream_output import OutputTarget
from imagine_gateway.providers.xai_bodies import WireOptions, image_request, job_mode, video_request

VIDEO_RULES: Mapping[str, ParamRule] = {
    "duration": ParamRule(min=1, max=15),
    # xAI's API has no generation modes; only the plain one can be served faithfully.
    "mode": ParamRule(options=("normal",)),
    "resolution": ParamRule(options=("480p", "720p", "1080p")),
    "aspect_ratio": ParamRule(options=("1:1", "16:9", "9:16", "4:3", "3:4", "3:2", "2:3")),
}
DEFAULT_MODELS: Mapping[str, ModelMapping] = {
    # xAI serves the retired grok-imagine-image-quality as 2.0 at low quality.
    "grok-imagine": ModelMapping(upstream_model="grok-imagine-image", quality_model="grok-imagine-image-2.0"),
    "grok-imagine-video": ModelMapping(upstream_model="grok-imagine-video", rules=VIDEO_RULES),
    "grok-imagine-video-1.5": ModelMapping(upstream_model="grok-imagine-video-1.5"),
    "grok-imagine-video-1.5-lite": ModelMapping(upstream_model="grok-imagine-video-1.5-lite"),
    "grok-imagine-image": ModelMapping(upstream_model="grok-imagine-image"),
    "grok-imagine-image-2.0": ModelMapping(upstream_model="grok-imagine-image-2.0"),
}
_MODERATION_WORDS = ("moderation", "moderated", "content policy", "safety")


def api_root(base_url: str) -> str:
    """Accept both ``https://api.x.ai`` and ``https://api.x.ai/v1``."""
    base = base_url.rstrip("/")
    return base[: -len("/v1")] if base.endswith("/v1") else base


def engine_unsupported(model: ModelContract, params: Mapping[str, Any]) -> str | None:
    """``params.<field>: why`` for the first engine rule (catalog ``modes``) a request breaks."""
    uses = [
        _role_use(model, item) for item in params.get("referenceMediaItems") or () if isinstance(item, dict)
    ]
    _, issues = mode_issues(model, params, uses, prompt=None)
    for issue in issues:
        if issue.kind == "prompt":
            continue  # the prompt is the contract's business, not a capability
        where = "params.referenceMediaItems" if issue.kind != "param" else f"params.{issue.key}"
        return f"{where}: {issue.message}"
    return None


def _role_use(model: ModelContract, item: dict[str, Any]) -> RoleUse:
    kind = str(item.get("kind", "image"))
    return RoleUse(
        role=str(item.get("role") or default_role(model, kind)),
        kind=kind,
        timestamp_s=item.get("timestampSeconds"),
        duration_s=item.get("durationSeconds"),
    )


class XaiProvider(HttpProvider):
    """Grok Imagine images and videos from xAI (or anything serving xAI's REST shape)."""

    probe_path = "/v1/videos/imagine-gateway-probe"

    def __init__(
        self,
        *,
        name: str,
        http: UpstreamHttp,
        models: Mapping[str, ModelMapping],
        options: WireOptions | None = None,
        output: OutputTarget | None = None,
    ) -> None:
        super().__init__(name=name, http=http, models=models)
        self.options = options or WireOptions()
        self.output = output

    def unsupported(self, model: ModelContract, params: dict[str, Any]) -> str | None:
        return super().unsupported(model, params) or engine_unsupported(model, params)

    # --- submit -----------------------------------------------------------------------------------

    async def submit(self, job: Job) -> Submitted:
        path, body = await self.request_for(job)
        response = await self.http.request("POST", path, role="submit", json_body=body)
        self.http.fail_for_status(response, role="submit")
        answer = json_body(self.name, response, role="submit")
        request_id = answer.get("request_id")
        if not isinstance(request_id, str) or not request_id:
            raise SubmitAmbiguous(f"{self.name} accepted the request but named no request_id: {answer}"[:500])
        return Submitted(upstream_id=request_id)

    async def request_for(self, job: Job) -> tuple[str, dict[str, Any]]:
        """The path and body this job is sent as."""
        mapping = self.mapping(job.model)
        await check_source_lengths(job)
        uploads: list[str] = []
        if self.output is not None:
            count = 1 if job.model.output == "video" else int(job.params.get("n", 1))
            uploads = await self.output.upload_urls(job, count)
        if job.model.output == "video":
            return video_request(job, mapping, self.options, uploads)
        return image_request(job, mapping, self.options, uploads)

    def video_body(self, job: Job) -> dict[str, Any]:
        """A video job's body without an upload target (what the xAI-compatible relays are sent)."""
        return video_request(job, self.mapping(job.model), self.options)[1]

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
        if response.status_code == 400 and _names_moderation(error_message(response)):
            # Some front ends answer a moderated result's poll with a 400 naming moderation.
            return _moderated_outcome(self.name, None, {})
        self.http.fail_for_status(response, role="poll")
        if response.status_code == 202:
            return PollOutcome(state="pending", progress=_progress(_optional_json(response)))
        staged = None
        if self.output is not None:
            count = 1 if job.model.output == "video" else int(job.params.get("n", 1))
            staged = self.output.asset_urls(job, count)
        return read_outcome(self.name, json_body(self.name, response, role="poll"), job, staged=staged)

    async def open_result(self, asset: ResultAsset, job: Job) -> AsyncIterator[bytes]:
        if self.output is not None and self.output.holds(asset.url):
            async for chunk in self.output.open(asset.url):
                yield chunk
            return
        async for chunk in self.http.stream(asset.url):
            yield chunk


async def check_source_lengths(job: Job) -> None:
    """Refuse an edit or extension whose input video is outside xAI's limits, before sending it.

    The request may not have said how long the file is; its bytes are at hand here.
    """
    mode = job_mode(job)
    if mode is None or mode.source_duration is None:
        return
    low, high = mode.source_duration
    for ref in job.references:
        if ref.kind != "video" or ref.data is None:
            continue
        seconds = await asyncio.to_thread(_video_seconds, ref.data)
        if seconds is not None and not low <= seconds <= high:
            raise ProviderRejected(
                f"The input video is {seconds:.1f} s; {job.model.id} takes {low:g} to {high:g} s for "
                f"{mode.name}. Nothing was sent upstream.",
                code="validation_failed",
            )


def _video_seconds(data: bytes) -> float | None:
    from imagine_gateway.core.errors import GatewayError
    from imagine_gateway.media.probe import probe_file

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "input.mp4"
        path.write_bytes(data)
        try:
            return probe_file(path, expected_kind="video", field="video").duration_s
        except GatewayError:
            return None


def read_outcome(
    name: str, body: dict[str, Any], job: Job, *, staged: list[str] | None = None
) -> PollOutcome:
    """An xAI-shaped status body as an outcome (shared with the xAI-compatible relays).

    ``staged``: where xAI was told to PUT the results (bring-your-own-storage); those are the
    assets then, whatever URL (often none) the body shows.
    """
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
        if str(code) in ("invalid_argument", "invalid-argument") and _names_moderation(str(message)):
            return _moderated_outcome(name, cost, raw)
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
    if any(_moderated(item, staged=staged is not None) for item in items):
        return _moderated_outcome(name, cost, raw)
    kind = job.model.output
    if staged is not None:
        items = [{**item, "url": url} for item, url in zip(items, staged, strict=False)]
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


def _moderated(item: dict[str, Any], *, staged: bool = False) -> bool:
    flag = item.get("respect_moderation", True)
    # With an upload target the result is in our storage, and the body may show no URL at all.
    return flag is False or str(flag).lower() == "false" or (not staged and not item.get("url"))


def _names_moderation(message: str) -> bool:
    return any(word in message.lower() for word in _MODERATION_WORDS)


def _moderated_outcome(name: str, cost: int | None, raw: dict[str, Any]) -> PollOutcome:
    return PollOutcome(
        state="failed",
        error_code="content_moderated",
        error_message=f"{name} withheld the result: it did not pass content moderation.",
        cost_ticks=cost,
        raw=raw,
    )


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
