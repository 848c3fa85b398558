"""The worker: claims due task rows and runs their next step.

Steps (each resumable from the persisted state after a crash):
  queued      -> record 'submitting' + provider, then submit           -> processing
  submitting  -> (found after a crash) reconcile, never resubmit blindly -> processing | failed
  processing  -> poll on a backoff schedule                              -> collecting | failed
  collecting  -> stream results into storage, probe, settle credits      -> succeeded | failed
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import os
import random
import socket
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from imagine_gateway.catalog.loader import Catalog
from imagine_gateway.catalog.validation import ReferenceItem
from imagine_gateway.core.clock import Clock
from imagine_gateway.core.records import Task
from imagine_gateway.core.schedule import jittered, poll_delay_s, retry_delay_s
from imagine_gateway.core.states import TaskState
from imagine_gateway.delivery.events import EventBus, TaskEvent
from imagine_gateway.media.storage import Storage
from imagine_gateway.providers.base import (
    Job,
    Provider,
    ProviderError,
    ProviderRejected,
    ProviderUnavailable,
    SubmitAmbiguous,
)
from imagine_gateway.providers.router import Router
from imagine_gateway.services.references import ReferenceResolver
from imagine_gateway.settings import Settings
from imagine_gateway.store import tasks as task_store
from imagine_gateway.store.db import Database
from imagine_gateway.worker import settle
from imagine_gateway.worker.collect import CollectError, collect_asset
from imagine_gateway.worker.lanes import Lane
from imagine_gateway.worker.writeback import WriteBatcher

log = logging.getLogger("imagine_gateway.worker")


@dataclass
class WorkerStats:
    steps: int = 0
    claims: int = 0
    lost_writes: int = 0


class Worker:
    """Runs task steps with bounded concurrency; any number of workers may share one database."""

    def __init__(
        self,
        *,
        db: Database,
        catalog: Catalog,
        router: Router,
        storage: Storage,
        references: ReferenceResolver,
        events: EventBus,
        clock: Clock,
        settings: Settings,
        owner: str | None = None,
    ) -> None:
        self.db = db
        self.catalog = catalog
        self.router = router
        self.storage = storage
        self.references = references
        self.events = events
        self.clock = clock
        self.settings = settings
        self.owner = owner or f"{socket.gethostname()}:{uuid.uuid4().hex[:8]}"
        self.lease_ms = int(settings.lease_s * 1000)
        self.stats = WorkerStats()
        self._running: set[asyncio.Task[None]] = set()
        # Tasks whose step runs here; one keeper renews all their leases (not a timer per step).
        self._held: dict[str, Task] = {}
        self._lease_keeper: asyncio.Task[None] | None = None
        self._wake = asyncio.Event()
        self._batcher = WriteBatcher(db)
        # Polls (and reconciles) of jobs at an upstream: claimed as soon as a slot frees.
        self._polls = Lane(size=settings.worker_concurrency, refill_at=settings.worker_concurrency - 1)
        # New submissions: far fewer at once than polls, so a backlog of them cannot crowd the event
        # loop while jobs already running wait for their polls (docs/benchmarks.md: with half as many
        # submissions as polls in flight, 20,000 new tasks pushed the poll lag p99 to 1.8 s; with an
        # eighth, 0.2 s, and all 20,000 were still at the upstream at once).
        submits = settings.worker_submit_concurrency or max(8, settings.worker_concurrency // 8)
        self._submits = Lane(size=submits, refill_at=submits // 2)
        # Collecting is CPU work (probe, poster); more of it at once than cores only starves polls.
        # A short queue is leased, sixteen per slot (refilling one of four per slot cost a tenth of
        # the collect rate in claims); results beyond it stay in the database, unleased, for
        # whichever worker frees a slot first.
        slots = settings.worker_collect_concurrency or max(2, os.cpu_count() or 2)
        self._collect_slots = asyncio.Semaphore(slots)
        self._collects = Lane(size=16 * slots, refill_at=8 * slots)
        self._next_probe_s = 0.0
        self._random = random.Random()  # poll jitter only; nothing secret
        self._probing: asyncio.Task[dict[str, bool]] | None = None
        # Called with each poll's lateness (actual minus scheduled start, ms); benchmarks listen here.
        self.on_poll_lag: Callable[[int], None] | None = None

    def wake(self) -> None:
        """Look for due work now (called after a create in the same process)."""
        self._wake.set()

    async def run(self, stop: asyncio.Event) -> None:
        """Claim and run until ``stop`` is set; then wait for running steps."""
        while not stop.is_set():
            self._probe_providers()
            # Cleared before the claim, so a wake-up that arrives while it runs is not lost.
            self._wake.clear()
            try:
                claimed = await self.claim_and_start()
            except Exception:  # keep the loop alive through a database hiccup
                log.exception("claiming tasks failed")
                claimed = 0
            if claimed == 0:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), timeout=self.settings.worker_idle_poll_s)
        await self.drain()

    async def drain(self) -> None:
        if self._running:
            await asyncio.gather(*self._running, return_exceptions=True)
        if self._lease_keeper is not None:
            self._lease_keeper.cancel()
            await asyncio.gather(self._lease_keeper, return_exceptions=True)
            self._lease_keeper = None
        if self._probing is not None:
            await asyncio.gather(self._probing, return_exceptions=True)

    def _probe_providers(self) -> None:
        """Start probing providers whose breaker cooled down (in the background, at most one round)."""
        now_s = time.monotonic()
        if now_s < self._next_probe_s or (self._probing is not None and not self._probing.done()):
            return
        self._next_probe_s = now_s + self.settings.provider_probe_interval_s
        self._probing = asyncio.create_task(self.router.probe_due())

    async def claim_and_start(self) -> int:
        """Claim due tasks into the lanes' free slots and start their steps; how many were claimed."""
        batch = self.settings.worker_batch
        # Polls first: under more load than the worker carries, jobs in flight keep their schedule.
        rooms: list[tuple[task_store.ClaimScope, Lane, int]] = [
            ("in_flight", self._polls, self._polls.room(batch)),
            ("queued", self._submits, self._submits.room(batch)),
            ("collect", self._collects, self._collects.room()),
        ]
        if not any(room for _, _, room in rooms):
            return 0
        claim = functools.partial(
            task_store.claim_due,
            owner=self.owner,
            now_ms=self.clock.now_ms(),
            lease_ms=self.lease_ms,
            skip_locked=not self.db.is_sqlite,
        )
        claimed: list[tuple[Lane, Task]] = []
        async with self.db.write() as conn:
            for scope, lane, room in rooms:
                claimed += [(lane, task) for task in await claim(conn, limit=room, scope=scope)]
        self.stats.claims += len(claimed)
        for lane, task in claimed:
            lane.started(1)
            self._held[task.id] = task
            runner = asyncio.create_task(self._run_step(task))
            self._running.add(runner)
            runner.add_done_callback(functools.partial(self._step_done, lane))
        # Started after ``_held`` is filled (no step has run yet): the keeper stops when it is empty.
        if self._held and (self._lease_keeper is None or self._lease_keeper.done()):
            self._lease_keeper = asyncio.create_task(self._keep_leases())
        return len(claimed)

    def _step_done(self, lane: Lane, runner: asyncio.Task[None]) -> None:
        # Here, not in the step: the claim loop it wakes must see the slot already free.
        self._running.discard(runner)
        if lane.finished():
            self._wake.set()

    async def run_until_idle(self, *, max_rounds: int = 10_000) -> None:
        """Run every due step now, repeatedly, until nothing is due (tests and tools)."""
        for _ in range(max_rounds):
            if await self.claim_and_start() == 0 and not self._running:
                return
            await self.drain()

    async def _run_step(self, task: Task) -> None:
        try:
            self.stats.steps += 1
            await self.step(task)
        except Exception:
            log.exception("step of task %s failed unexpectedly", task.id)
            await self._reschedule(task, delay_s=retry_delay_s(task.attempts), attempts=task.attempts + 1)
        finally:
            # Only this step's own claim: the task may have been claimed again since it wrote its
            # last write-back (a poll due soon), and that claim's lease must go on being renewed.
            if self._held.get(task.id) is task:
                del self._held[task.id]

    async def _keep_leases(self) -> None:
        """Every third of a lease, extend the lease of every step still running here (one batch)."""
        while self._held:
            await asyncio.sleep(self.settings.lease_s / 3)
            until = self.clock.now_ms() + self.lease_ms
            # A lost lease needs no action here: the step's own write-back will find the fence moved.
            try:
                await self._batcher.renew(list(self._held.values()), until_ms=until)
            except Exception:  # the next round tries again; a lease runs three rounds
                log.exception("renewing %d leases failed", len(self._held))

    async def step(self, task: Task) -> None:
        now = self.clock.now_ms()
        state = task.task_state
        if now >= task.deadline_at and state in (TaskState.QUEUED, TaskState.PROCESSING):
            await self._fail(
                task,
                "upstream_timeout",
                f"The upstream did not finish within {self.settings.task_deadline_s:g} s.",
            )
            return
        if state is TaskState.QUEUED:
            await self._submit(task, await self._job(task), tried=())
        elif state is TaskState.SUBMITTING:
            await self._reconcile(task)
        elif state is TaskState.PROCESSING:
            if self.on_poll_lag is not None and task.next_run_at is not None:
                self.on_poll_lag(now - task.next_run_at)
            await self._poll(task)
        elif state is TaskState.COLLECTING:
            async with self._collect_slots:
                await self._collect(task)

    async def _job(self, task: Task) -> Job:
        model = self.catalog.get(task.model)
        if model is None:
            raise RuntimeError(f"model {task.model} left the catalog")
        # The task was validated at creation, by whichever dialect's contract it came through; here we
        # only rebuild its reference items (never re-check it against the native ranges).
        items = tuple(ReferenceItem.from_public(i) for i in task.params.get("referenceMediaItems") or ())
        refs = await self.references.load(task.account_id, items)
        params = {k: v for k, v in task.params.items() if k != "referenceMediaItems"}
        return Job(
            task_id=task.id,
            model=model,
            prompt=task.prompt,
            params=params,
            references=refs,
            now_ms=self.clock.now_ms(),
            account_id=task.account_id,
        )

    def _poll_job(self, task: Task) -> Job:
        """The job as a poll needs it: no reference bytes (polls are frequent; only submits use them)."""
        model = self.catalog.get(task.model)
        if model is None:
            raise RuntimeError(f"model {task.model} left the catalog")
        params = {k: v for k, v in task.params.items() if k != "referenceMediaItems"}
        return Job(
            task_id=task.id, model=model, prompt=task.prompt, params=params, now_ms=self.clock.now_ms()
        )

    async def _submit(self, task: Task, job: Job, *, tried: tuple[str, ...], wait_s: float = 0.0) -> None:
        """Submit to the best ready provider; fail over along the others on safe failures."""
        provider = self.router.pick(job.model, job.params, exclude=tried)
        if provider is None:
            # Every provider failed, is out (breaker), rate-limited or asked us to wait (Retry-After).
            delay = max(wait_s, retry_delay_s(task.attempts, base_s=1.0, cap_s=60.0))
            log.warning("no provider took task %s (tried %s); retrying in %.0f s", task.id, tried, delay)
            await self._reschedule(task, delay_s=delay, attempts=task.attempts + 1, state=TaskState.QUEUED)
            return
        now = self.clock.now_ms()
        if not await self._write(
            task,
            {
                "state": TaskState.SUBMITTING.value,
                "provider": provider.name,
                "started_at": task.started_at or now,
                "updated_at": now,
            },
        ):
            return
        try:
            submitted = await provider.submit(job)
        except ProviderUnavailable as exc:
            self.router.record_failure(provider.name, retry_after_s=exc.retry_after_s)
            log.info("provider %s unavailable for %s: %s", provider.name, task.id, exc.message)
            await self._submit(
                task, job, tried=(*tried, provider.name), wait_s=max(wait_s, exc.retry_after_s or 0.0)
            )
            return
        except SubmitAmbiguous as exc:
            self.router.record_failure(provider.name)
            log.warning("submit of %s to %s is ambiguous: %s", task.id, provider.name, exc.message)
            await self._write(task, {"submit_ambiguous": 1})
            await self._reconcile(task, provider=provider, job=job, cause=exc.message)
            return
        except ProviderRejected as exc:
            self.router.record_success(provider.name)
            await self._fail(task, exc.code, exc.message)
            return
        self.router.record_success(provider.name)
        await self._accepted(task, provider, submitted.upstream_id, first_poll_s=submitted.first_poll_s)

    async def _accepted(
        self, task: Task, provider: Provider, upstream_id: str, *, first_poll_s: float | None = None
    ) -> None:
        now = self.clock.now_ms()
        delay = self._poll_delay(task, 0) if first_poll_s is None else first_poll_s
        if await self._write(
            task,
            {
                "state": TaskState.PROCESSING.value,
                "provider": provider.name,
                "upstream_id": upstream_id,
                "polls": 0,
                "updated_at": now,
                "next_run_at": now + int(delay * 1000),
                "lease_owner": None,
                "lease_expires_at": None,
            },
        ):
            await self.events.publish(TaskEvent("generation.processing", task.id, task.account_id))

    async def _reconcile(
        self,
        task: Task,
        *,
        provider: Provider | None = None,
        job: Job | None = None,
        cause: str = "the worker stopped between sending the request and recording its answer",
    ) -> None:
        """A submit whose outcome we do not know: ask the upstream, never resubmit blindly."""
        provider = provider or (self.router.get(task.provider) if task.provider else None)
        job = job or await self._job(task)
        found = None
        if provider is not None:
            try:
                found = await provider.reconcile(job)
            except ProviderError as exc:
                if exc.retryable and self.clock.now_ms() < task.deadline_at:
                    await self._reschedule(
                        task, delay_s=retry_delay_s(task.attempts), attempts=task.attempts + 1
                    )
                    return
        if found is None:
            await self._fail(
                task,
                "upstream_submit_ambiguous",
                f"The upstream may or may not have received this task ({cause}) and has no way to "
                "look it up; it was not resubmitted, to avoid paying twice. Credits were released.",
            )
            return
        assert provider is not None
        await self._accepted(task, provider, found.upstream_id)

    async def _poll(self, task: Task) -> None:
        provider = self.router.get(task.provider or "")
        if provider is None or task.upstream_id is None:
            await self._fail(
                task, "upstream_unavailable", f"Provider {task.provider!r} is no longer configured."
            )
            return
        job = self._poll_job(task)
        try:
            outcome = await provider.poll(task.upstream_id, job)
        except ProviderUnavailable as exc:
            # Unknown, never failed: look again later (the deadline ends a job that stays unknown).
            self.router.record_failure(provider.name, retry_after_s=exc.retry_after_s)
            delay = max(exc.retry_after_s or 0.0, self._poll_delay(task, task.polls + 1))
            await self._reschedule(task, delay_s=delay, polls=task.polls + 1)
            return
        except ProviderRejected as exc:
            await self._fail(task, exc.code, exc.message)
            return
        self.router.record_success(provider.name)
        now = self.clock.now_ms()
        if outcome.state == "pending":
            delay = self._poll_delay(task, task.polls + 1)
            if outcome.retry_after_s is not None:
                delay = max(0.05, min(delay, outcome.retry_after_s))
            changed = outcome.progress != task.progress
            await self._reschedule(
                task, delay_s=delay, polls=task.polls + 1, progress=max(task.progress, outcome.progress)
            )
            if changed:
                await self.events.publish(TaskEvent("generation.progress", task.id, task.account_id))
        elif outcome.state == "failed":
            await self._fail(
                task,
                outcome.error_code or "generation_failed",
                outcome.error_message or "The generation failed.",
                extra={"upstream_result": outcome.raw or None, "upstream_cost_ticks": outcome.cost_ticks},
            )
        else:
            assets = [
                {"url": a.url, "kind": a.kind, "mime_type": a.mime_type, "duration_s": a.duration_s}
                for a in outcome.assets
            ]
            if not assets:
                await self._fail(task, "generation_failed", "The upstream finished without a result.")
                return
            await self._write(
                task,
                {
                    "state": TaskState.COLLECTING.value,
                    "progress": 99,
                    "polls": task.polls + 1,
                    "upstream_result": {"assets": assets, "raw": outcome.raw},
                    "upstream_cost_ticks": outcome.cost_ticks,
                    "attempts": 0,
                    "next_run_at": now,
                    "updated_at": now,
                    "lease_owner": None,
                    "lease_expires_at": None,
                },
            )
            self.wake()

    async def _collect(self, task: Task) -> None:
        from imagine_gateway.providers.base import ResultAsset

        provider = self.router.get(task.provider or "")
        upstream = task.upstream_result or {}
        if provider is None:
            await self._fail(
                task, "upstream_unavailable", f"Provider {task.provider!r} is no longer configured."
            )
            return
        job = await self._job(task)
        collected = []
        try:
            for index, raw in enumerate(upstream.get("assets", [])):
                asset = ResultAsset(
                    url=raw["url"],
                    kind=raw["kind"],
                    mime_type=raw.get("mime_type"),
                    duration_s=raw.get("duration_s"),
                )
                collected.append(
                    await collect_asset(
                        self.storage,
                        provider,
                        job,
                        asset,
                        index,
                        max_bytes=self.settings.collect_max_bytes,
                        work_dir=self.settings.home,
                    )
                )
        except CollectError as exc:
            if exc.retryable and task.attempts + 1 < self.settings.collect_attempts:
                await self._reschedule(
                    task, delay_s=retry_delay_s(task.attempts, base_s=2.0), attempts=task.attempts + 1
                )
            else:
                await self._fail(task, "result_unavailable", str(exc))
            return
        now = self.clock.now_ms()
        expires = now + int(self.settings.result_retention_s * 1000)
        result = {"assets": [c.as_dict() for c in collected]}
        if await settle.succeed(self.db, task, result=result, now_ms=now, expires_at=expires):
            await self.events.publish(TaskEvent("generation.succeeded", task.id, task.account_id))
        else:
            self.stats.lost_writes += 1

    def _poll_delay(self, task: Task, attempt: int) -> float:
        if attempt <= 0:
            delay = self.settings.poll_first_s
        else:
            model = self.catalog.get(task.model)
            duration = task.params.get("duration")
            delay = poll_delay_s(
                attempt,
                output=model.output if model else "video",
                duration_s=float(duration) if isinstance(duration, int | float) else None,
                age_s=(self.clock.now_ms() - task.created_at) / 1000,
            )
        delay = jittered(delay, self._random.random())
        cap = self.settings.poll_max_interval_s
        return delay if cap is None else min(delay, cap)

    async def _reschedule(
        self, task: Task, *, delay_s: float, state: TaskState | None = None, **values: Any
    ) -> None:
        now = self.clock.now_ms()
        update = {
            "next_run_at": now + int(delay_s * 1000),
            "updated_at": now,
            "lease_owner": None,
            "lease_expires_at": None,
            **values,
        }
        if state is not None:
            update["state"] = state.value
        await self._write(task, update)

    async def _write(self, task: Task, values: dict[str, Any]) -> bool:
        ok = await self._batcher.write(task, values)
        if not ok:
            self.stats.lost_writes += 1
            log.info("task %s moved on without this worker (lease lost or canceled)", task.id)
        return ok

    async def _fail(
        self, task: Task, code: str, message: str, *, extra: dict[str, Any] | None = None
    ) -> None:
        if await settle.fail(
            self.db, task, code=code, message=message, now_ms=self.clock.now_ms(), extra=extra
        ):
            await self.events.publish(TaskEvent("generation.failed", task.id, task.account_id))
        else:
            self.stats.lost_writes += 1
