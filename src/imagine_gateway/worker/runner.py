"""The worker's loop: claims due task rows into lanes of slots and runs each one's step.

The steps themselves (submit, reconcile, poll, collect) live in ``worker.steps``; this module
claims, leases, dispatches by state, turns a step's ``Retry`` into a reschedule, and writes every
update through the group-committing ``store.writeback.WriteBatcher``.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import math
import os
import random
import socket
import uuid
from collections.abc import Callable
from dataclasses import dataclass

from imagine_gateway.catalog.loader import Catalog
from imagine_gateway.core.clock import Clock
from imagine_gateway.core.records import Task
from imagine_gateway.core.schedule import retry_delay_s
from imagine_gateway.core.states import TaskState
from imagine_gateway.core.transitions import DeadlinePassed, Rescheduled, overdue, transition
from imagine_gateway.core.updates import TaskUpdate
from imagine_gateway.delivery.events import EventBus, TaskEvent
from imagine_gateway.media.storage import Storage
from imagine_gateway.providers.router import Router
from imagine_gateway.services.references import ReferenceResolver
from imagine_gateway.settings import Settings
from imagine_gateway.store import tasks as task_store
from imagine_gateway.store.db import Database
from imagine_gateway.store.writeback import WriteBatcher
from imagine_gateway.telemetry import logs
from imagine_gateway.telemetry.tasks import task_changed
from imagine_gateway.worker.lanes import StepLane
from imagine_gateway.worker.steps import STEPS, Retry, StepContext

log = logging.getLogger("imagine_gateway.worker")
CLAIM_LINGER_S = 0.005  # after a claim of less than a batch, before the next (see run)
# A kind of step whose last claim found nothing due is claimed again after this share of the idle
# poll at most (sooner when woken for it; see claim_and_start): 50 ms by default.
EMPTY_RECHECK_SHARE = 0.2
SUBMIT_QUEUE = 24  # new tasks leased beyond the submission slots, waiting for one (three per slot below 8)


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
        # Kinds of step whose last claim found nothing due, with the loop's time of that claim, and
        # the kinds woken for since their last claim began (claimed next round, and not marked
        # empty by a claim that was running as the wake-up came).
        self._empty: dict[task_store.ClaimScope, float] = {}
        self._woken: set[task_store.ClaimScope] = set()
        self._batcher = WriteBatcher(db)
        # Polls (and reconciles) of jobs at an upstream: claimed as soon as a slot frees.
        self._polls = StepLane(size=settings.worker_concurrency, refill_at=settings.worker_concurrency - 1)
        # New submissions: far fewer at once than polls, so a backlog of them cannot crowd the event
        # loop while jobs already running wait for their polls (docs/benchmarks.md: with half as many
        # submissions as polls in flight, 20,000 new tasks pushed the poll lag p99 to 1.8 s; with an
        # eighth, 0.2 s, and all 20,000 were still at the upstream at once).
        # A short queue is leased beyond the slots, refilled at half: a claim and a batch of
        # write-backs then serve a dozen submissions or more, where one of four for a lane of eight
        # cost the worker about as much CPU again as the submissions themselves (docs/benchmarks.md,
        # step 26). At most SUBMIT_QUEUE tasks wait: each claim steps over the leased ones in the
        # claim index, and 384 waiting behind 128 slots made polls late.
        submits = settings.worker_submit_concurrency or max(8, settings.worker_concurrency // 8)
        self._submit_slots = asyncio.Semaphore(submits)
        queue = submits + min(3 * submits, SUBMIT_QUEUE)
        self._submits = StepLane(size=queue, refill_at=queue // 2)
        # Collecting is CPU work (probe, poster); more of it at once than cores only starves polls.
        # A short queue is leased, sixteen per slot (refilling one of four per slot cost a tenth of
        # the collect rate in claims); results beyond it stay in the database, unleased, for
        # whichever worker frees a slot first.
        slots = settings.worker_collect_concurrency or max(2, os.cpu_count() or 2)
        self._collect_slots = asyncio.Semaphore(slots)
        self._collects = StepLane(size=16 * slots, refill_at=8 * slots)
        self._slots = {TaskState.QUEUED: self._submit_slots, TaskState.COLLECTING: self._collect_slots}
        self._steps = StepContext(
            catalog=catalog,
            router=router,
            references=references,
            storage=storage,
            settings=settings,
            clock=clock,
            apply=self._apply,
            wake=self.wake,
            rng=random.Random(),  # poll jitter only; nothing secret
        )
        # Called with each poll's lateness (actual minus scheduled start, ms); benchmarks listen here.
        self.on_poll_lag: Callable[[int], None] | None = None

    def wake(self) -> None:
        """Look for due work of every kind now (a result to collect, a nudge from a test)."""
        self._woken.update(("in_flight", "queued", "collect"))
        self._wake.set()

    def wake_for_submissions(self) -> None:
        """New tasks wait to be submitted (a create in this process): claim them if a slot is free."""
        self._woken.add("queued")
        self._wake.set()

    async def run(self, stop: asyncio.Event) -> None:
        """Claim and run until ``stop`` is set; then wait for running steps."""
        while not stop.is_set():
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
            elif claimed < self.settings.worker_batch:
                # A small claim: let what arrives next gather for a moment, so that a stream of
                # creates (each one wakes the worker) is claimed in a few transactions, not one each.
                await asyncio.sleep(CLAIM_LINGER_S)
        await self.drain()

    async def drain(self) -> None:
        """Let running steps finish within ``shutdown_grace_s``; stop the rest and give their tasks back."""
        if self._running:
            _, late = await asyncio.wait(set(self._running), timeout=self.settings.shutdown_grace_s)
            if late:
                await self._release(late)
        if self._lease_keeper is not None:
            self._lease_keeper.cancel()
            await asyncio.gather(self._lease_keeper, return_exceptions=True)
            self._lease_keeper = None

    async def _release(self, late: set[asyncio.Task[None]]) -> None:
        """Stop steps that outlived the grace period and hand their leases back at once."""
        held = [(task.id, task.fence) for task in self._held.values()]
        for runner in late:
            runner.cancel()
        await asyncio.gather(*late, return_exceptions=True)
        try:
            async with self.db.write() as conn:
                released = await task_store.release_leases(
                    conn, held, owner=self.owner, now_ms=self.clock.now_ms()
                )
        except Exception:  # the leases then run out by themselves, as after a crash
            log.exception("releasing %d leases failed", len(held))
            return
        log.warning(
            "stopped %d steps still running after %.0f s; released %d tasks to other workers",
            len(late),
            self.settings.shutdown_grace_s,
            released,
        )

    async def claim_and_start(self) -> int:
        """Claim due tasks into the lanes' free slots and start their steps; how many were claimed.

        A kind whose last claim found nothing due is left out until it is woken for (``wake``;
        ``wake_for_submissions`` for new tasks) or a fifth of ``worker_idle_poll_s`` has passed.
        A stream of creates wakes the worker for each one, and claiming polls and collects each
        time cost a statement apiece that found nothing; a kind whose claims do find work (polls
        coming due one after another) is claimed on every round, as before.
        """
        batch = self.settings.worker_batch
        now = asyncio.get_running_loop().time()
        recheck_s = EMPTY_RECHECK_SHARE * self.settings.worker_idle_poll_s
        # Polls first: under more load than the worker carries, jobs in flight keep their schedule.
        lanes: tuple[tuple[task_store.ClaimScope, StepLane, int], ...] = (
            ("in_flight", self._polls, self._polls.room(batch)),
            ("queued", self._submits, self._submits.room(batch)),
            ("collect", self._collects, self._collects.room()),
        )
        rooms = [
            (scope, lane, room)
            for scope, lane, room in lanes
            if room and (scope in self._woken or now - self._empty.get(scope, -math.inf) >= recheck_s)
        ]
        if not rooms:
            return 0
        claim = functools.partial(
            task_store.claim_due,
            owner=self.owner,
            now_ms=self.clock.now_ms(),
            lease_ms=self.lease_ms,
            skip_locked=not self.db.is_sqlite,
        )
        claimed: list[tuple[StepLane, Task]] = []
        empty: list[task_store.ClaimScope] = []
        for scope, _, _ in rooms:  # claimable again next round if this claim fails
            self._woken.discard(scope)
            self._empty.pop(scope, None)
        async with self.db.write(quick=True) as conn:
            for scope, lane, room in rooms:
                taken = await claim(conn, limit=room, scope=scope)
                claimed += [(lane, task) for task in taken]
                if not taken:
                    empty.append(scope)
        # Marked once the claim has committed; a wake-up for a kind while its claim ran (a create
        # committed meanwhile) keeps it claimable.
        self._empty.update(dict.fromkeys((s for s in empty if s not in self._woken), now))
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

    def _step_done(self, lane: StepLane, runner: asyncio.Task[None]) -> None:
        # Here, not in the step: the claim loop it wakes must see the slot already free.
        self._running.discard(runner)
        if lane.finished():
            self._wake.set()

    async def _run_step(self, task: Task) -> None:
        logs.bind(task_id=task.id, account_id=task.account_id, provider=task.provider)  # this step's lines
        try:
            self.stats.steps += 1
            try:
                await self.step(task)
            except Retry as retry:
                await self._reschedule(task, retry)
            except Exception:
                log.exception("step of task %s failed unexpectedly", task.id)
                await self._reschedule(task, Retry(retry_delay_s(task.attempts)))
        except Exception:  # a reschedule that could not be written: the lease runs out instead
            log.exception("rescheduling task %s failed", task.id)
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
        """Run the step of the task's state (the deadline first ends a task that waited too long)."""
        now = self.clock.now_ms()
        if overdue(task, now):
            await self._apply(transition(task, DeadlinePassed(self.settings.task_deadline_s), now))
            return
        state = task.task_state
        run = STEPS.get(state)
        if run is None:  # pragma: no cover - claims take live tasks only
            return
        slots = self._slots.get(state)
        if slots is not None:
            async with slots:
                await run(self._steps, task)
            return
        if state is TaskState.PROCESSING and self.on_poll_lag is not None and task.next_run_at is not None:
            self.on_poll_lag(now - task.next_run_at)
        await run(self._steps, task)

    async def _reschedule(self, task: Task, retry: Retry) -> None:
        event = Rescheduled(int(retry.delay_s * 1000), count=retry.count, requeue=retry.requeue)
        await self._apply(transition(task, event, self.clock.now_ms()))

    async def _apply(self, update: TaskUpdate) -> bool:
        """Write an update; announce it when it took effect, count it when it lost."""
        if await self._batcher.apply(update):
            task_changed(update)
            if update.announce is not None:
                task = update.task
                await self.events.publish(TaskEvent(update.announce, task.id, task.account_id))
            return True
        self.stats.lost_writes += 1
        log.info("task %s moved on without this worker (lease lost or canceled)", update.task.id)
        return False
