"""queued -> submitting -> processing: send the job to the best ready provider, failing over along
the others on failures that are safe to retry elsewhere."""

from __future__ import annotations

import logging

from imagine_gateway.core.records import Task
from imagine_gateway.core.schedule import retry_delay_s
from imagine_gateway.core.transitions import Failed, Submitting, SubmitWasAmbiguous
from imagine_gateway.providers.base import ProviderRejected, ProviderUnavailable, SubmitAmbiguous
from imagine_gateway.worker.steps.base import Retry, StepContext
from imagine_gateway.worker.steps.reconcile import accepted, resolve

log = logging.getLogger("imagine_gateway.worker")


async def submit(ctx: StepContext, task: Task) -> None:
    """Record ``submitting`` and the provider before each call, so a crash is reconciled, not resent."""
    job = await ctx.job_with_references(task)
    tried: tuple[str, ...] = ()
    wait_s = 0.0
    while True:
        provider = ctx.router.pick(job.model, job.params, exclude=tried)
        if provider is None:
            # Every provider failed, is out (breaker), rate-limited or asked us to wait (Retry-After).
            delay = max(wait_s, retry_delay_s(task.attempts, base_s=1.0, cap_s=60.0))
            log.warning("no provider took task %s (tried %s); retrying in %.0f s", task.id, tried, delay)
            raise Retry(delay, requeue=True)
        submitting = await ctx.advance(task, Submitting(provider.name))
        if submitting is None:
            return
        task = submitting.after()
        try:
            submitted = await provider.submit(job)
        except ProviderUnavailable as exc:
            ctx.router.record_failure(provider.name, retry_after_s=exc.retry_after_s)
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
        await accepted(ctx, task, provider, submitted.upstream_id, first_poll_s=submitted.first_poll_s)
        return
