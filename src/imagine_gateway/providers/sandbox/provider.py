"""The sandbox engine: renders real, clearly marked PNG and MP4 files locally.

Used when no upstream key is configured, so the whole pipeline (submit, poll, collect, settle) runs
with no other server and no key. Latency and failure rate come from settings, never from prompts.
"""

from __future__ import annotations

import asyncio
import hashlib
import tempfile
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from imagine_gateway.catalog.contract import ModelContract
from imagine_gateway.media.dimensions import image_size, video_size
from imagine_gateway.providers.base import (
    Job,
    PollOutcome,
    ProviderRejected,
    ResultAsset,
    Submitted,
)
from imagine_gateway.providers.sandbox.render import render_image, render_video

CHUNK_BYTES = 1 << 20


class SandboxProvider:
    """A provider whose 'upstream' is a renderer in this process."""

    name = "sandbox"
    # The result is rendered when it is collected, from the task's reference image: collecting
    # needs the reference bytes, which a downloaded result never does.
    renders_results_from_references = True
    # A local engine bills nothing: a billing policy never charges for its jobs.
    bills_jobs = False
    # Nothing leaves the process at a submit: a crash before the job is recorded leaves its task
    # queued, and submitting it again is harmless, so the worker writes no ``submitting`` first.
    submits_locally = True

    def __init__(
        self, *, latency_s: float, failure_rate: float, fps: int, work_dir: Path | None = None
    ) -> None:
        self.latency_ms = int(latency_s * 1000)
        self.failure_rate = failure_rate
        self.fps = fps
        self.work_dir = work_dir

    def unsupported(self, model: ModelContract, params: dict[str, Any]) -> str | None:
        try:
            if model.output == "image":
                image_size(str(params.get("aspect_ratio", "1:1")))
            elif model.output == "video":
                video_size(str(params.get("resolution", "480p")), str(params.get("aspect_ratio", "16:9")))
            else:
                return f"the sandbox engine does not render {model.output}"
        except ValueError as exc:
            return str(exc)
        return None

    async def submit(self, job: Job) -> Submitted:
        # The id carries the ready time, so polling needs no state beyond the task row.
        return Submitted(
            upstream_id=f"sbx_{job.task_id}_{job.now_ms + self.latency_ms}",
            first_poll_s=self.latency_ms / 1000,
        )

    async def reconcile(self, job: Job) -> Submitted | None:
        return await self.submit(job)

    async def poll(self, upstream_id: str, job: Job) -> PollOutcome:
        ready_at = int(upstream_id.rsplit("_", 1)[1])
        if job.now_ms < ready_at:
            started = ready_at - self.latency_ms
            progress = int(99 * (job.now_ms - started) / max(1, self.latency_ms))
            return PollOutcome(
                state="pending",
                progress=max(0, min(99, progress)),
                retry_after_s=(ready_at - job.now_ms) / 1000,
            )
        if self._fails(job.task_id):
            return PollOutcome(
                state="failed",
                error_code="generation_failed",
                error_message="The sandbox engine simulated a failure (IMAGINE_SANDBOX_FAILURE_RATE).",
            )
        ext = "png" if job.model.output == "image" else "mp4"
        mime = "image/png" if ext == "png" else "video/mp4"
        duration = float(job.params["duration"]) if job.model.output == "video" else None
        # Models with an ``n`` param make that many images in one task.
        count = int(job.params.get("n", 1)) if job.model.output == "image" else 1
        assets = tuple(
            ResultAsset(
                url=f"sandbox://{upstream_id}{'' if i == 0 else f'.{i}'}.{ext}",
                kind=job.model.output,
                mime_type=mime,
                duration_s=duration,
            )
            for i in range(count)
        )
        return PollOutcome(state="done", progress=100, assets=assets, cost_ticks=0)

    async def cancel(self, upstream_id: str) -> None:
        return None

    async def open_result(self, asset: ResultAsset, job: Job) -> AsyncIterator[bytes]:
        reference = job.references[0].data if job.references else None
        # The n-th image of a task draws differently from the first (whose seed is the task's).
        index = asset.url.removeprefix("sandbox://").split(".")[1:-1]
        salt = job.task_id + (f"#{index[0]}" if index else "")
        seed = int(hashlib.sha256(salt.encode()).hexdigest()[:8], 16)
        try:
            if asset.kind == "image":
                w, h = image_size(str(job.params.get("aspect_ratio", "1:1")))
                data = await asyncio.to_thread(render_image, job.prompt, w, h, reference=reference, seed=seed)
                for i in range(0, len(data), CHUNK_BYTES):
                    yield data[i : i + CHUNK_BYTES]
                return
            w, h = video_size(
                str(job.params.get("resolution", "480p")), str(job.params.get("aspect_ratio", "16:9"))
            )
            with tempfile.TemporaryDirectory(dir=self.work_dir) as tmp:
                out = Path(tmp) / "render.mp4"
                await asyncio.to_thread(
                    render_video,
                    job.prompt,
                    w,
                    h,
                    float(job.params.get("duration", 6)),
                    out,
                    fps=self.fps,
                    reference=reference,
                    seed=seed,
                )
                with out.open("rb") as fh:
                    while chunk := await asyncio.to_thread(fh.read, CHUNK_BYTES):
                        yield chunk
        except ValueError as exc:
            raise ProviderRejected(f"The sandbox engine could not render this request: {exc}") from exc

    async def aclose(self) -> None:
        return None

    def _fails(self, task_id: str) -> bool:
        if self.failure_rate <= 0:
            return False
        # Deterministic per task, so a task re-polled after a restart gets the same answer.
        draw = int(hashlib.sha256(f"fail:{task_id}".encode()).hexdigest()[:8], 16) / 0xFFFFFFFF
        return draw < self.failure_rate
