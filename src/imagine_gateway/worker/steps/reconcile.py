"""submitting (found after a crash, or an ambiguous submit) -> processing | failed: ask the
upstream whether it holds the job; never resubmit blindly (that could be paid twice)."""

from __future__ import annotations

import asyncio
import logging

from imagine_gateway.core.records import Task
from imagine_gateway.core.schedule import retry_delay_s
from imagine_gateway.core.transitions import Accepted, Failed, transition
from imagine_gateway.providers.base import Job, Provider, ProviderError
from imagine_gateway.worker.steps.base import Retry, StepContext

log = logging.getLogger("imagine_gateway.worker")

RECORD_RETRY_FIRST_S = 0.05
RECORD_RETRY_MAX_S = 2.0

CRASH_CAUSE = "the worker stopped between sending the request and recording its answer"


async def reconcile(ctx: StepContext, task: Task) -> None:
    """A task left in ``submitting``: look it up at its provider."""
    provider = ctx.router.get(task.provider) if task.provider else None
    in_hand = ctx.ids_in_hand.get(task.id)
    if provider is not None and in_hand is not None and in_hand[0] == provider.name:
        # This worker holds the upstream's answer already (its write-back was interrupted and the
        # task came back to it): record it, there is nothing to look up.
        await accepted(ctx, task, provider, in_hand[1])
        return
    # With references: a provider that reconciles by resending the same request (under the same
    # idempotency key) must send the same body.
    job = await ctx.job_with_references(task) if provider is not None else None
    await resolve(ctx, task, provider=provider, job=job, cause=CRASH_CAUSE)


async def resolve(
    ctx: StepContext, task: Task, *, provider: Provider | None, job: Job | None, cause: str
) -> None:
    """Processing when the upstream finds the job; failed (credits released) when it cannot say."""
    found = None
    if provider is not None and job is not None:
        try:
            found = await provider.reconcile(job)
        except ProviderError as exc:
            if exc.retryable and ctx.clock.now_ms() < task.deadline_at:
                raise Retry(retry_delay_s(task.attempts)) from exc
    if found is None or provider is None:
        charge = ctx.charge(task, "ambiguous_submit")
        await ctx.advance(
            task,
            Failed(
                "upstream_submit_ambiguous",
                f"The upstream may or may not have received this task ({cause}) and has no way to "
                "look it up; it was not resubmitted, to avoid paying twice."
                + (" Credits were released." if charge is None else ""),
                charge=charge,
            ),
        )
        return
    await accepted(ctx, task, provider, found.upstream_id)


async def accepted(
    ctx: StepContext, task: Task, provider: Provider, upstream_id: str, *, first_poll_s: float | None = None
) -> None:
    """The upstream holds the job: processing, first poll on the schedule (or when it said).

    The upstream id is the only way to reach a job the upstream was paid for, so it is recorded
    before anything else happens to the task: a write that fails (the database went away) is tried
    again until it lands or the task has moved on without this worker (the fence). Until then the
    id is also kept in ``ctx.ids_in_hand``, where a reconcile of the same task in this worker finds
    it. Only past the task's deadline does it give up (logged with the id).
    """
    event = Accepted(provider.name, upstream_id, first_poll_in_ms=ctx.first_poll_ms(task, first_poll_s))
    ctx.ids_in_hand[task.id] = (provider.name, upstream_id)
    wait_s = RECORD_RETRY_FIRST_S
    while True:
        try:
            landed = await ctx.apply(transition(task, event, ctx.clock.now_ms()))
        except Exception as exc:
            if ctx.clock.now_ms() >= task.deadline_at:
                log.error(
                    "task %s: upstream id %s of %s not recorded: %s", task.id, upstream_id, provider.name, exc
                )
                raise
            log.warning("task %s: recording upstream id %s failed (%s); retrying", task.id, upstream_id, exc)
            await asyncio.sleep(wait_s)
            wait_s = min(wait_s * 2, RECORD_RETRY_MAX_S)
            continue
        if landed:
            ctx.ids_in_hand.pop(task.id, None)
        return
