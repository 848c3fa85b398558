"""What every step is handed, and how a step asks to run again later.

A step is a plain ``async def step(ctx, task)`` that moves its task on through ``ctx.advance``
(one transition, written fenced) or raises ``Retry`` to be run again after a delay.
"""

from __future__ import annotations

import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Literal

from imagine_gateway.catalog.loader import Catalog
from imagine_gateway.catalog.validation import ReferenceItem
from imagine_gateway.core.clock import Clock
from imagine_gateway.core.records import Task
from imagine_gateway.core.schedule import jittered, poll_delay_s
from imagine_gateway.core.transitions import Charge, Event, transition
from imagine_gateway.core.updates import TaskUpdate
from imagine_gateway.media.storage import Storage
from imagine_gateway.providers.base import Job
from imagine_gateway.providers.router import Router
from imagine_gateway.services.billing import Case, policy_charge
from imagine_gateway.services.references import ReferenceResolver
from imagine_gateway.settings import Settings


class Retry(Exception):
    """Run this step again in ``delay_s``, counting one more attempt (or poll, for a poll that
    could not reach its upstream); ``requeue`` sends the task back to ``queued``."""

    def __init__(
        self, delay_s: float, *, count: Literal["attempts", "polls"] = "attempts", requeue: bool = False
    ) -> None:
        super().__init__(f"retry in {delay_s:.3g} s")
        self.delay_s = delay_s
        self.count: Literal["attempts", "polls"] = count
        self.requeue = requeue


@dataclass
class StepContext:
    """The parts a step works with; ``apply`` writes an update (fenced) and announces it."""

    catalog: Catalog
    router: Router
    references: ReferenceResolver
    storage: Storage
    settings: Settings
    clock: Clock
    apply: Callable[[TaskUpdate], Awaitable[bool]]
    wake: Callable[[], None]
    rng: random.Random
    # Upstream ids received but not yet recorded (task id -> provider, upstream id): see
    # ``steps.reconcile.accepted``.
    ids_in_hand: dict[str, tuple[str, str]] = field(default_factory=dict)

    async def advance(self, task: Task, event: Event) -> TaskUpdate | None:
        """Apply the transition ``event`` makes; the update, or None when the write lost."""
        update = transition(task, event, self.clock.now_ms())
        return update if await self.apply(update) else None

    def charge(self, task: Task, case: Case) -> Charge | None:
        """What ending ``task`` without a result charges in ``case``, by the billing settings."""
        provider = self.router.get(task.provider) if task.provider else None
        return policy_charge(self.settings, self.catalog, task, case, provider=provider)

    def job(self, task: Task) -> Job:
        """The job without reference bytes: what polls and collects need (they run often)."""
        model = self.catalog.get(task.model)
        if model is None:
            raise RuntimeError(f"model {task.model} left the catalog")
        params = {k: v for k, v in task.params.items() if k != "referenceMediaItems"}
        return Job(
            task_id=task.id,
            model=model,
            prompt=task.prompt,
            params=params,
            now_ms=self.clock.now_ms(),
            account_id=task.account_id,
        )

    async def job_with_references(self, task: Task) -> Job:
        """The job with its reference files loaded, for a submit (or a reconcile that resends it)."""
        job = self.job(task)
        # The task was validated at creation, by whichever dialect's contract it came through; here we
        # only rebuild its reference items (never re-check it against the native ranges).
        items = tuple(ReferenceItem.from_public(i) for i in task.params.get("referenceMediaItems") or ())
        if not items:
            return job
        refs = await self.references.load(task.account_id, items)
        return Job(
            task_id=job.task_id,
            model=job.model,
            prompt=job.prompt,
            params=job.params,
            references=refs,
            now_ms=self.clock.now_ms(),
            account_id=job.account_id,
        )

    def first_poll_ms(self, task: Task, said_s: float | None) -> int:
        """Milliseconds until a new job's first poll: when its engine said, else the schedule's."""
        return int(1000 * (self.poll_delay(task, 0) if said_s is None else said_s))

    def poll_delay(self, task: Task, attempt: int) -> float:
        """Seconds until poll ``attempt`` of the task, jittered and capped by the settings."""
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
        delay = jittered(delay, self.rng.random())
        cap = self.settings.poll_max_interval_s
        return delay if cap is None else min(delay, cap)
