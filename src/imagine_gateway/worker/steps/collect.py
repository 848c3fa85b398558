"""collecting -> succeeded | failed: take the upstream's outputs into our storage, then capture."""

from __future__ import annotations

import contextlib

from imagine_gateway.catalog.prices import delivered_credits, delivery_words
from imagine_gateway.core.records import Task
from imagine_gateway.core.results import StoredAsset, StoredResult
from imagine_gateway.core.schedule import retry_delay_s
from imagine_gateway.core.transitions import Collected, Failed
from imagine_gateway.media.storage import LocalStorage, Storage
from imagine_gateway.worker.collect import CollectError, collect_asset
from imagine_gateway.worker.steps.base import Retry, StepContext
from imagine_gateway.worker.steps.poll import gone


async def collect(ctx: StepContext, task: Task) -> None:
    """Store every asset (retrying transport failures a few times), then settle the credits."""
    provider = ctx.router.get(task.provider or "")
    if provider is None:
        await ctx.advance(task, gone(task))
        return
    # Only an engine that renders the result itself from the references (the sandbox) needs their
    # bytes here; a real upstream's result is a download.
    if getattr(provider, "renders_results_from_references", False):
        job = await ctx.job_with_references(task)
    else:
        job = ctx.job(task)
    upstream = task.upstream_result
    assets = upstream.assets if upstream is not None and upstream.assets else ()
    stored = []
    try:
        for index, asset in enumerate(assets):
            stored.append(
                await collect_asset(
                    ctx.storage,
                    provider,
                    job,
                    asset,
                    index,
                    max_bytes=ctx.settings.collect_max_bytes,
                    work_dir=ctx.settings.home,
                )
            )
    except CollectError as exc:
        if exc.retryable and task.attempts + 1 < ctx.settings.collect_attempts:
            raise Retry(retry_delay_s(task.attempts, base_s=2.0)) from exc
        if await ctx.advance(task, Failed("result_unavailable", str(exc))) is not None:
            # Only once the failure landed: a task that moved on may be collected elsewhere now.
            await discard_results(ctx.storage, task.id, stored)
        return
    retention_ms = int(ctx.settings.result_retention_s * 1000)
    result = StoredResult(tuple(stored))
    # Settled to what was delivered: the stored files' measured seconds, the images stored.
    charge = delivered_credits(job.model, task.params, result)
    delivered = Collected(result, retention_ms=retention_ms, charge=charge, delivered=delivery_words(result))
    await ctx.advance(task, delivered)


async def discard_results(storage: Storage, task_id: str, stored: list[StoredAsset]) -> None:
    """Remove what a failed collect stored (this try's assets and posters; on local storage the
    task's whole results directory, which also holds earlier tries'). Best effort: the sweeper
    removes what is left."""
    with contextlib.suppress(Exception):
        for asset in stored:
            await storage.delete(asset.key)
            if asset.poster_key is not None:
                await storage.delete(asset.poster_key)
        if isinstance(storage, LocalStorage):
            await storage.delete_group(f"results/{task_id}")
