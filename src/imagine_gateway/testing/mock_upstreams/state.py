"""In-memory state of one mock upstream: its jobs, what it received, and which faults are due.

A job is a dict entry with a creation time; its status is computed from the elapsed time on every
poll, so ten thousand jobs in flight cost nothing but their entries.
"""

from __future__ import annotations

import asyncio
import dataclasses
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any, Literal

from imagine_gateway.testing.mock_upstreams.config import REQUEST_FAULTS, FailureMode, MockConfig
from imagine_gateway.testing.mock_upstreams.media import MediaCache

Role = Literal["submit", "poll"]
Outcome = Literal["succeeded", "failed", "expired", "moderation", "moderation_failed"]
MediaKind = Literal["video", "image"]


@dataclass
class Job:
    """One generation the mock accepted. ``references`` are image URLs (data or loopback) to draw from."""

    id: str
    media: MediaKind
    model: str
    prompt: str
    width: int
    height: int
    duration_s: float = 0.0
    count: int = 1
    references: tuple[str, ...] = ()
    request: Any = None
    created_monotonic_s: float = field(default_factory=time.monotonic)
    created_epoch_ms: int = field(default_factory=lambda: time.time_ns() // 1_000_000)
    outcome: Outcome | None = None
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class JobView:
    """A job as a poll sees it now: ``outcome`` is None while it is still running."""

    progress: int
    outcome: Outcome | None
    elapsed_s: float

    @property
    def running(self) -> bool:
        return self.outcome is None


@dataclass
class ReceivedRequest:
    """A request that carried a body: the exact params a client sent upstream.

    ``body`` is the decoded JSON, or the raw text when it was not JSON (``is_json`` False).
    """

    endpoint: str
    headers: dict[str, str]
    body: Any
    is_json: bool = True
    job_id: str | None = None


@dataclass
class MockStats:
    """Counters a test or benchmark reads; ``received`` keeps only requests with a body (submits)."""

    by_endpoint: Counter[str] = field(default_factory=Counter)
    by_job: Counter[str] = field(default_factory=Counter)
    faults: Counter[str] = field(default_factory=Counter)
    received: list[ReceivedRequest] = field(default_factory=list)

    @property
    def total(self) -> int:
        return sum(self.by_endpoint.values())

    def bodies(self, endpoint: str | None = None) -> list[Any]:
        """Bodies received, oldest first, optionally only those of ``endpoint`` ("POST /v1/...")."""
        return [r.body for r in self.received if endpoint is None or r.endpoint == endpoint]

    def clear(self) -> None:
        self.by_endpoint.clear()
        self.by_job.clear()
        self.faults.clear()
        self.received.clear()


class MockUpstream:
    """Config, stats, jobs and rendered media of one mock app (``app.state.mock``)."""

    def __init__(self, kind: str, config: MockConfig) -> None:
        self.kind = kind
        self.config = config
        self.stats = MockStats()
        self.jobs: dict[str, Job] = {}
        self.media = MediaCache(config)
        # Idempotency-Key -> (canonical body, job id), for shapes that honour the header.
        self.idempotency: dict[str, tuple[str, str]] = {}
        self._fault_key: tuple[object, ...] = ()
        self._faults_used = 0
        self._release: asyncio.Event | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    def add_job(self, job: Job, received: ReceivedRequest | None = None) -> Job:
        """Store ``job``, counting its submit request (``received``) against it."""
        self.jobs[job.id] = job
        self.stats.by_job[job.id] += 1
        if received is not None:
            received.job_id = job.id
        return job

    def summary(self, *, per_job: bool = False) -> dict[str, Any]:
        """Counters as JSON: totals, requests per job (min/mean/max), faults; ``per_job`` adds each job's."""
        counts = [self.stats.by_job[job_id] for job_id in self.jobs]
        out: dict[str, Any] = {
            "kind": self.kind,
            "jobs": len(counts),
            "requests": self.stats.total,
            "by_endpoint": dict(self.stats.by_endpoint),
            "faults": dict(self.stats.faults),
            "requests_per_job": {
                "min": min(counts, default=0),
                "mean": sum(counts) / len(counts) if counts else 0.0,
                "max": max(counts, default=0),
            },
        }
        if per_job:
            out["by_job"] = dict(self.stats.by_job)
        return out

    def view(self, job: Job) -> JobView:
        """Where ``job`` is now; the first look after it finished fixes its outcome for good."""
        generation_s = max(0.0, self.config.generation_time_s)
        elapsed_s = time.monotonic() - job.created_monotonic_s
        if job.outcome is None and elapsed_s < generation_s:
            return JobView(min(99, int(100 * elapsed_s / generation_s)), None, elapsed_s)
        if job.outcome is None:
            job.outcome = self._decide_outcome()
        return JobView(100, job.outcome, elapsed_s)

    def take_request_fault(self, role: Role) -> FailureMode | None:
        """The request fault to inject into this request, counting it against ``fail_times``."""
        failure = self.config.failure
        if failure not in REQUEST_FAULTS or self.config.failure_on not in (role, "both"):
            return None
        return failure if self._spend_fault() else None

    def _decide_outcome(self) -> Outcome:
        failure = self.config.failure
        if failure in ("failed", "expired", "moderation", "moderation_failed") and self._spend_fault():
            return failure
        return "succeeded"

    def _spend_fault(self) -> bool:
        config = self.config
        key = (config.failure, config.failure_on, config.fail_times)
        if key != self._fault_key:
            self._fault_key, self._faults_used = key, 0
        if config.fail_times is not None and self._faults_used >= config.fail_times:
            return False
        self._faults_used += 1
        self.stats.faults[config.failure] += 1
        return True

    async def hang(self) -> bool:
        """Stall for ``hang_s``; False when the mock was closed meanwhile (the caller then aborts)."""
        if self._release is None:
            self._release, self._loop = asyncio.Event(), asyncio.get_running_loop()
        try:
            await asyncio.wait_for(self._release.wait(), timeout=self.config.hang_s)
        except TimeoutError:
            return True
        return False

    def release_hangs(self) -> None:
        """Wake every stalled request (thread-safe), so a server can stop without waiting ``hang_s``."""
        if self._release is not None and self._loop is not None and not self._loop.is_closed():
            self._loop.call_soon_threadsafe(self._release.set)

    def reset(self, config: MockConfig | None = None) -> None:
        """Start afresh between tests on an idle server: forget jobs, stats, fault counts and media,
        wake stalled requests, and take ``config``'s settings (into the same config object)."""
        self.release_hangs()
        self._release = None
        fresh = config or MockConfig()
        for setting in dataclasses.fields(fresh):
            setattr(self.config, setting.name, getattr(fresh, setting.name))
        self.jobs.clear()
        self.idempotency.clear()
        self.stats.clear()
        self._fault_key, self._faults_used = (), 0
        self.media.clear()

    def close(self) -> None:
        self.release_hangs()
        self.media.close()
