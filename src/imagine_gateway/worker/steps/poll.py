"""processing -> processing (rescheduled) | collecting | failed: ask the upstream how its job is."""

from __future__ import annotations

from imagine_gateway.core.records import Task
from imagine_gateway.core.transitions import Charge, Failed, Progressed, UpstreamFinished
from imagine_gateway.providers.base import ProviderRejected, ProviderUnavailable
from imagine_gateway.worker.steps.base import Retry, StepContext

MODERATED = "content_moderated"


async def poll(ctx: StepContext, task: Task) -> None:
    """One poll; the next one on the backoff schedule (sooner if the upstream says when)."""
    provider = ctx.router.get(task.provider or "")
    if provider is None or task.upstream_id is None:
        await ctx.advance(task, gone(task))
        return
    try:
        outcome = await provider.poll(task.upstream_id, ctx.job(task))
    except ProviderUnavailable as exc:
        # Unknown, never failed: look again later (the deadline ends a job that stays unknown).
        ctx.router.record_failure(provider.name, retry_after_s=exc.retry_after_s, error=exc)
        raise Retry(
            max(exc.retry_after_s or 0.0, ctx.poll_delay(task, task.polls + 1)), count="polls"
        ) from exc
    except ProviderRejected as exc:
        await ctx.advance(task, Failed(exc.code, exc.message, charge=moderated(ctx, task, exc.code)))
        return
    ctx.router.record_success(provider.name)
    if outcome.state == "pending":
        delay = ctx.poll_delay(task, task.polls + 1)
        if outcome.retry_after_s is not None:
            delay = max(0.05, min(delay, outcome.retry_after_s))
        await ctx.advance(task, Progressed(outcome.progress, next_poll_in_ms=int(delay * 1000)))
    elif outcome.state == "failed":
        failed = Failed(
            outcome.error_code or "generation_failed",
            outcome.error_message or "The generation failed.",
            upstream_raw=outcome.raw,
            cost_ticks=outcome.cost_ticks,
            charge=moderated(ctx, task, outcome.error_code),
        )
        await ctx.advance(task, failed)
    else:
        await ctx.advance(task, UpstreamFinished(outcome.assets, outcome.raw, outcome.cost_ticks))
        if outcome.assets:
            ctx.wake()  # due now: collect it without waiting for the idle poll


def moderated(ctx: StepContext, task: Task, code: str | None) -> Charge | None:
    """The moderation policy's charge when the upstream's moderation blocked the output."""
    return ctx.charge(task, "moderation") if code == MODERATED else None


def gone(task: Task) -> Failed:
    """The failure of a task whose provider is no longer configured."""
    return Failed("upstream_unavailable", f"Provider {task.provider!r} is no longer configured.")
