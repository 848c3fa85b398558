"""Rivya's Public API v1, our own native shape, so one gateway can use another as its upstream.

    POST /api/v1/generations {model, prompt, params, client_request_id}  + Idempotency-Key
         -> 202 {id, status: "queued", ...}
    GET  /api/v1/generations/{id}
         -> {status: queued | processing | succeeded | failed | canceled, result: {urls}, error}

Every submit carries ``Idempotency-Key: imagine-<task id>``, so an ambiguous submit is resolved by
sending the same request again: the upstream replays the task it made (or makes it, once). Params
pass through unchanged (same catalog contract); references go as ``referenceMediaItems`` with our
URL when we have one, else a data URL. Failed tasks keep the upstream's error code when it is one
we also use (``content_moderated``, ``upstream_timeout``, ...), else ``generation_failed``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from imagine_gateway.providers.base import (
    Job,
    PollOutcome,
    ProviderRejected,
    ResultAsset,
    SubmitAmbiguous,
    Submitted,
)
from imagine_gateway.providers.config import ModelMapping
from imagine_gateway.providers.http import HttpProvider, Role, UpstreamHttp, data_url, json_body
from imagine_gateway.providers.xai import as_object

PASSED_THROUGH_CODES = frozenset(
    {"generation_failed", "content_moderated", "upstream_timeout", "upstream_expired", "result_unavailable"}
)


def api_root(base_url: str) -> str:
    """Accept both ``https://host`` and ``https://host/api/v1``."""
    base = base_url.rstrip("/")
    return base[: -len("/api/v1")] if base.endswith("/api/v1") else base


class RivyaProvider(HttpProvider):
    """Another Rivya-compatible gateway (or Rivya itself) as an upstream."""

    probe_path = "/api/v1/generations/imagine-gateway-probe"

    def __init__(self, *, name: str, http: UpstreamHttp, models: Mapping[str, ModelMapping]) -> None:
        super().__init__(name=name, http=http, models=models)

    def request_body(self, job: Job) -> dict[str, Any]:
        mapping = self.mapping(job.model)
        params: dict[str, Any] = dict(job.params)
        if job.references:
            params["referenceMediaItems"] = [
                {"url": r.url or data_url(r), "kind": r.kind, "mimeType": r.mime_type} for r in job.references
            ]
        return {
            "model": mapping.upstream_model,
            "prompt": job.prompt,
            "params": params,
            "client_request_id": job.task_id,
        }

    async def submit(self, job: Job) -> Submitted:
        return await self._create(job, role="submit")

    async def reconcile(self, job: Job) -> Submitted | None:
        """Send the same request with the same Idempotency-Key: the upstream answers with its task."""
        try:
            return await self._create(job, role="poll")
        except ProviderRejected:
            # e.g. 409: the key was used with another body; we cannot tell which task is ours.
            return None

    async def _create(self, job: Job, *, role: Role) -> Submitted:
        response = await self.http.request(
            "POST",
            "/api/v1/generations",
            role=role,
            json_body=self.request_body(job),
            headers={"Idempotency-Key": f"imagine-{job.task_id}"},
        )
        self.http.fail_for_status(response, role=role)
        task = json_body(self.name, response, role=role)
        task_id = task.get("id")
        if not isinstance(task_id, str) or not task_id:
            raise SubmitAmbiguous(f"{self.name} accepted the request but named no task id: {task}"[:500])
        return Submitted(upstream_id=task_id)

    async def poll(self, upstream_id: str, job: Job) -> PollOutcome:
        response = await self.http.request("GET", f"/api/v1/generations/{upstream_id}", role="poll")
        if response.status_code == 404:
            return PollOutcome(
                state="failed",
                error_code="upstream_expired",
                error_message=f"{self.name} no longer knows this task (404).",
            )
        self.http.fail_for_status(response, role="poll")
        task = json_body(self.name, response, role="poll")
        status = task.get("status")
        progress = task.get("progress")
        progress = max(0, min(99, int(progress))) if isinstance(progress, int) else 0
        if status in ("queued", "processing"):
            return PollOutcome(state="pending", progress=progress)
        if status == "succeeded":
            result = as_object(task.get("result"))
            urls = result.get("urls") or ([result["primary_url"]] if result.get("primary_url") else [])
            assets = tuple(
                ResultAsset(url=u, kind=job.model.output) for u in urls if isinstance(u, str) and u
            )
            return PollOutcome(state="done", progress=100, assets=assets, raw=task)
        if status in ("failed", "canceled"):
            error = as_object(task.get("error"))
            code = error.get("code")
            message = error.get("message") or f"The upstream task ended {status}."
            return PollOutcome(
                state="failed",
                error_code=code if code in PASSED_THROUGH_CODES else "generation_failed",
                error_message=f"{self.name}: {message}",
                raw=task,
            )
        return PollOutcome(state="pending", progress=progress, raw=task)
