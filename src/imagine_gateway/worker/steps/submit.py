"""queued -> submitting -> processing: send the job to the best ready provider, failing over along
the others on failures that are safe to retry elsewhere."""

from __future__ import annotations

import logging
import math

from imagine_gateway.core.records import Task
from imagine_gateway.core.schedule import retry_delay_s
from imagine_gateway.core.transitions import Failed, SubmittedLocally, Submitting, SubmitWasAmbiguous
from imagine_gateway.providers.base import ProviderRejected, ProviderUnavailable, SubmitAmbiguous
from imagine_gateway.worker.steps.base import Retry, StepContext
from imagine_gateway.worker.steps.reconcile import accepted, resolve

log = logging.getLogger("imagine_gateway.worker")


async def submit(ctx: StepContext, task: Task) -> None:
    """Record ``submitting`` and the provider before each call, so a crash is reconciled, not resent
    (an engine inside this process has nothing to reconcile: its job is recorded once, when taken)."""
    job = await ctx.job_with_references(task)
    tried: tuple[str, ...] = ()
    wait_s = 0.0
    while True:
        provider = ctx.router.pick(job.model, job.params, exclude=tried)
        if provider is None:
            # Every provider failed, is out (breaker), rate-limited or asked us to wait (Retry-After).
            if await gave_up_waiting(ctx, task):
                return
            delay = max(wait_s, retry_delay_s(task.attempts, base_s=1.0, cap_s=60.0))
            # Never past the moment the task stops waiting for a provider: it ends then, not later.
            if (left_s := no_provider_left_s(ctx, task)) is not None:
                delay = max(0.05, min(delay, left_s))
            log.warning("no provider took task %s (tried %s); retrying in %.0f s", task.id, tried, delay)
            raise Retry(delay, requeue=True)
        credential = getattr(provider, "credential", None)  # a label of the key, never the key
        local = getattr(provider, "submits_locally", False)
        if not local:
            submitting = await ctx.advance(task, Submitting(provider.name, credential))
            if submitting is None:
                return
            task = submitting.after()
        try:
            submitted = await provider.submit(job)
        except ProviderUnavailable as exc:
            ctx.router.record_failure(provider.name, retry_after_s=exc.retry_after_s, error=exc)
            log.info("provider %s unavailable for %s: %s", provider.name, task.id, exc.message)
            tried = (*tried, provider.name)
            wait_s = max(wait_s, exc.retry_after_s or 0.0)
            continue
        except SubmitAmbiguous as exc:
            ctx.router.record_failure(provider.name)
            log.warning("submit of %s to %s is ambiguous: %s", task.id, provider.name, exc.message)
            marked = await ctx.advance(task, SubmitWasAmbiguous())
            task = marked.after() if marked is not None else task
            await resolve(ctx, task, provider=provider, job=job, cause=exc.message)
            return
        except ProviderRejected as exc:
            ctx.router.record_success(provider.name)
            await ctx.advance(task, Failed(exc.code, exc.message))
            return
        ctx.router.record_success(provider.name)
        if local:
            first_ms = ctx.first_poll_ms(task, submitted.first_poll_s)
            await ctx.advance(
                task, SubmittedLocally(provider.name, submitted.upstream_id, first_ms, credential)
            )
            return
        await accepted(ctx, task, provider, submitted.upstream_id, first_poll_s=submitted.first_poll_s)
        return


def no_provider_left_s(ctx: StepContext, task: Task) -> float | None:
    """Seconds until a task no provider can take stops waiting: ``no_provider_timeout_s`` after
    both its creation and the moment the last provider able to serve it went out. None while one
    of them is in (busy or rate-limited for a moment is not "no provider")."""
    model = ctx.catalog.get(task.model)
    out_s = ctx.router.out_for_s(model, task.params) if model is not None else math.inf
    if out_s is None:
        return None
    waited_s = min(out_s, (ctx.clock.now_ms() - task.created_at) / 1000)
    return ctx.settings.no_provider_timeout_s - waited_s


async def gave_up_waiting(ctx: StepContext, task: Task) -> bool:
    """Fail (credits released) a task no provider has taken for ``no_provider_timeout_s``."""
    left_s = no_provider_left_s(ctx, task)
    if left_s is None or left_s > 0:
        return False
    model = ctx.catalog.get(task.model)
    why = ctx.router.why_none(model, task.params) if model is not None else "its model left the catalog"
    message = (
        f"No provider could take this task within {ctx.settings.no_provider_timeout_s:.0f} s "
        f"({why}). It was never sent upstream; its credits were released."
    )
    log.error("task %s failed: %s", task.id, message, extra={"task_id": task.id})
    await ctx.advance(task, Failed("no_provider_available", message))
    return True
