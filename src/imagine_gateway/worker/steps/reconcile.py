"""submitting (found after a crash, or an ambiguous submit) -> processing | failed: ask the
upstream whether it holds the job; never resubmit blindly (that could be paid twice)."""

from __future__ import annotations

from imagine_gateway.core.records import Task
from imagine_gateway.core.schedule import retry_delay_s
from imagine_gateway.core.transitions import Accepted, Failed
from imagine_gateway.providers.base import Job, Provider, ProviderError
from imagine_gateway.worker.steps.base import Retry, StepContext

CRASH_CAUSE = "the worker stopped between sending the request and recording its answer"


async def reconcile(ctx: StepContext, task: Task) -> None:
    """A task left in ``submitting``: look it up at its provider."""
    provider = ctx.router.get(task.provider) if task.provider else None
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
        await ctx.advance(
            task,
            Failed(
                "upstream_submit_ambiguous",
                f"The upstream may or may not have received this task ({cause}) and has no way to "
                "look it up; it was not resubmitted, to avoid paying twice. Credits were released.",
            ),
        )
        return
    await accepted(ctx, task, provider, found.upstream_id)


async def accepted(
    ctx: StepContext, task: Task, provider: Provider, upstream_id: str, *, first_poll_s: float | None = None
) -> None:
    """The upstream holds the job: processing, first poll on the schedule (or when it said)."""
    delay = ctx.poll_delay(task, 0) if first_poll_s is None else first_poll_s
    await ctx.advance(task, Accepted(provider.name, upstream_id, first_poll_in_ms=int(delay * 1000)))
