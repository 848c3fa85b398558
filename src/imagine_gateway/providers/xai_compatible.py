"""Relays that speak xAI's video shape (the xAI-compatible relays, and Dubrify).

    POST /v1/videos/generations   (relays)      or  POST /v1/videos  (Dubrify; ``submit_path``)
         {model, prompt, duration, resolution, aspect_ratio, image?: {url}}  -> {"request_id"}
    GET  /v1/videos/{request_id}
         {"status": "pending"} | xAI's done/failed/expired body | Dubrify's done body, which has no
         status and string fields ({"video": {"url", "duration": "6", "respect_moderation": "true"}})

Videos only, 1..15 s, 480p/720p. Errors come in the OpenAI envelope (``{"error": {"message"}}``).
No relay documents an idempotency key or a lookup by client id, so an ambiguous submit cannot be
resolved (the task fails with a refund instead of paying twice).
"""

from __future__ import annotations

from collections.abc import Mapping

from imagine_gateway.providers.base import Job, PollOutcome, SubmitAmbiguous, Submitted
from imagine_gateway.providers.config import ModelMapping, ParamRule
from imagine_gateway.providers.http import HttpProvider, UpstreamHttp, json_body
from imagine_gateway.providers.xai import VIDEO_RULES, XaiProvider, read_outcome

RELAY_VIDEO_RULES: Mapping[str, ParamRule] = {
    **VIDEO_RULES,
    "resolution": ParamRule(options=("480p", "720p")),
}
DEFAULT_MODELS: Mapping[str, ModelMapping] = {
    "grok-imagine-video": ModelMapping(upstream_model="grok-imagine-video", rules=RELAY_VIDEO_RULES),
    # Relays list the 1.5 model under its preview id.
    "grok-imagine-video-1.5": ModelMapping(
        upstream_model="grok-imagine-video-1.5-preview", rules=RELAY_VIDEO_RULES
    ),
}
SUBMIT_PATHS = ("/v1/videos/generations", "/v1/videos")


class XaiCompatibleProvider(HttpProvider):
    """Grok Imagine videos through an xAI-compatible relay."""

    probe_path = "/v1/videos/imagine-gateway-probe"

    def __init__(
        self,
        *,
        name: str,
        http: UpstreamHttp,
        models: Mapping[str, ModelMapping],
        submit_path: str = SUBMIT_PATHS[0],
    ) -> None:
        super().__init__(name=name, http=http, models=models)
        if submit_path not in SUBMIT_PATHS:
            raise ValueError(f"submit_path must be one of {SUBMIT_PATHS}")
        self.submit_path = submit_path
        # The request body is xAI's; reuse its builder over the same model table.
        self._xai = XaiProvider(name=name, http=http, models=models)

    async def submit(self, job: Job) -> Submitted:
        body = self._xai.video_body(job)
        response = await self.http.request("POST", self.submit_path, role="submit", json_body=body)
        self.http.fail_for_status(response, role="submit")
        answer = json_body(self.name, response, role="submit")
        request_id = answer.get("request_id") or answer.get("id") or answer.get("task_id")
        if not isinstance(request_id, str) or not request_id:
            raise SubmitAmbiguous(f"{self.name} accepted the request but named no request id: {answer}"[:500])
        return Submitted(upstream_id=request_id)

    async def poll(self, upstream_id: str, job: Job) -> PollOutcome:
        response = await self.http.request("GET", f"/v1/videos/{upstream_id}", role="poll")
        if response.status_code == 404:
            return PollOutcome(
                state="failed",
                error_code="upstream_expired",
                error_message=f"{self.name} no longer knows this request (404): it expired or was removed.",
            )
        self.http.fail_for_status(response, role="poll")
        if response.status_code == 202 and not response.content:
            return PollOutcome(state="pending")
        return read_outcome(self.name, json_body(self.name, response, role="poll"), job)
