"""grokimagineapi.com: ``{code, message, data}`` envelopes around a task API.

    POST /v1/generate {mode, prompt, ratio, images?: [url]}  -> {"code":200,"data":{"task_id"}}
    GET  /v1/status?task_id=...  -> {"code":200,"data":{"status","response":[urls],...}}
         status: pending | processing | completed | failed

Videos only; the API has no duration or resolution, and its videos are 6 s at 480p, so only those
values are served. It does have Grok's modes (fun, normal, spicy). A reference image is sent as a
data URL in ``images``. The seed documents no moderation or expiry state: a ``completed`` task
without URLs ends as "finished without a result" (never as a success). No idempotency key exists,
so an ambiguous submit cannot be resolved.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from imagine_gateway.providers.base import (
    Job,
    PollOutcome,
    ProviderRejected,
    ProviderUnavailable,
    ResultAsset,
    SubmitAmbiguous,
    Submitted,
)
from imagine_gateway.providers.config import ModelMapping, ParamRule
from imagine_gateway.providers.http import HttpProvider, Role, UpstreamResponse, data_url, json_body

DEFAULT_MODELS: Mapping[str, ModelMapping] = {
    "grok-imagine-video": ModelMapping(
        upstream_model="grok-imagine",
        rules={
            "duration": ParamRule(min=6, max=6),
            "resolution": ParamRule(options=("480p",)),
            "aspect_ratio": ParamRule(options=("2:3", "3:2", "1:1")),
            "mode": ParamRule(options=("fun", "normal", "spicy")),
        },
    ),
}


class GrokImagineApiProvider(HttpProvider):
    """Grok Imagine videos through grokimagineapi.com's task API."""

    probe_path = "/v1/status"
    probe_params = {"task_id": "imagine-gateway-probe"}

    async def submit(self, job: Job) -> Submitted:
        self.mapping(job.model)
        body: dict[str, Any] = {
            "mode": str(job.params.get("mode", "normal")),
            "prompt": job.prompt,
            "ratio": str(job.params.get("aspect_ratio", "1:1")),
        }
        if job.references:
            body["images"] = [data_url(r) for r in job.references]
        response = await self.http.request("POST", "/v1/generate", role="submit", json_body=body)
        data = self._data(response, role="submit")
        task_id = data.get("task_id")
        if not isinstance(task_id, str) or not task_id:
            raise SubmitAmbiguous(f"{self.name} accepted the request but named no task_id: {data}"[:500])
        return Submitted(upstream_id=task_id)

    async def poll(self, upstream_id: str, job: Job) -> PollOutcome:
        response = await self.http.request("GET", "/v1/status", role="poll", params={"task_id": upstream_id})
        if response.status_code == 404:
            return PollOutcome(
                state="failed",
                error_code="upstream_expired",
                error_message=f"{self.name} no longer knows this task (404).",
            )
        data = self._data(response, role="poll")
        status = data.get("status")
        if status in ("pending", "processing", "queued"):
            return PollOutcome(state="pending", raw=data)
        if status == "failed":
            return PollOutcome(
                state="failed",
                error_code="generation_failed",
                error_message=f"{self.name} reported the generation as failed.",
                raw=data,
            )
        if status != "completed":
            return PollOutcome(state="pending", raw=data)
        urls = data.get("response")
        urls = [u for u in urls if isinstance(u, str) and u] if isinstance(urls, list) else []
        assets = tuple(ResultAsset(url=u, kind="video", mime_type="video/mp4") for u in urls[:1])
        return PollOutcome(state="done", progress=100, assets=assets, raw=data)

    def _data(self, response: UpstreamResponse, *, role: Role) -> dict[str, Any]:
        self.http.fail_for_status(response, role=role)
        envelope = json_body(self.name, response, role=role)
        code = envelope.get("code")
        if code not in (200, "200", None):
            message = f"{self.name} answered code {code}: {envelope.get('message') or envelope}"
            if code in (429, 500, 502, 503, 504, "429", "500", "502", "503", "504"):
                raise ProviderUnavailable(message)
            raise ProviderRejected(f"The upstream refused the request: {message}")
        data = envelope.get("data")
        if not isinstance(data, dict):
            if role == "submit":
                raise SubmitAmbiguous(f"{self.name} answered without data: {envelope}"[:500])
            raise ProviderUnavailable(f"{self.name} answered without data")
        return data
