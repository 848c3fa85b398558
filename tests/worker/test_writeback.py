"""The worker's group commit: fenced write-backs of many tasks in one transaction, each answered alone."""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy import select

from imagine_gateway.api.app import AppContext, Overrides, build_context
from imagine_gateway.catalog.validation import validate_generation
from imagine_gateway.cli import admin
from imagine_gateway.services.principal import ALL_SCOPES, Principal
from imagine_gateway.settings import load_settings
from imagine_gateway.store import tasks as task_store
from imagine_gateway.store.migrate import upgrade
from imagine_gateway.store.records import Task
from imagine_gateway.store.tables import tasks
from imagine_gateway.worker import settle
from imagine_gateway.worker.writeback import WriteBatcher


@pytest.fixture
async def ctx(tmp_path: Path) -> AsyncIterator[AppContext]:
    settings = load_settings(home=tmp_path / "gateway")
    await asyncio.to_thread(upgrade, settings.resolved_database_url)
    context = build_context(settings, Overrides(run_worker=False))
    yield context
    await context.router.aclose()
    await context.storage.aclose()
    await context.db.dispose()


async def claimed_tasks(ctx: AppContext, count: int) -> list[Task]:
    made = await admin.create_key(
        ctx.settings, name="t", account_ref=None, credits=100, scopes=None, expires_in_s=None, rate_limit=None
    )
    principal = Principal(account_id=made.account.id, api_key_id=made.key.id, scopes=frozenset(ALL_SCOPES))
    request = validate_generation(ctx.catalog, {"model": "grok-imagine", "prompt": "a fox"})
    for _ in range(count):
        await ctx.generations.create(principal, request)
    async with ctx.db.write() as conn:
        return await task_store.claim_due(
            conn,
            owner="w1",
            now_ms=ctx.clock.now_ms() + 1000,
            lease_ms=30_000,
            limit=count,
            skip_locked=False,
        )


async def row(ctx: AppContext, task_id: str) -> dict[str, object]:
    async with ctx.db.read() as conn:
        found = (await conn.execute(select(tasks).where(tasks.c.id == task_id))).mappings().one()
    return dict(found)


async def test_concurrent_writes_land_in_one_transaction_and_each_caller_hears_its_own_outcome(
    ctx: AppContext,
) -> None:
    live, stale, ended = await claimed_tasks(ctx, 3)
    assert await settle.fail(ctx.db, ended, code="generation_failed", message="x", now_ms=ctx.clock.now_ms())
    stale_copy = dataclasses.replace(stale, fence=stale.fence - 1)
    batcher = WriteBatcher(ctx.db)

    outcomes = await asyncio.gather(
        batcher.write(live, {"state": "collecting", "upstream_result": {"assets": [{"url": "u"}]}}),
        batcher.write(stale_copy, {"state": "collecting"}),
        batcher.write(ended, {"next_run_at": 1}),
        batcher.write(live, {"progress": 99, "polls": 3}),
    )

    # The second write of ``live`` wins its row (last write in a batch); both of its callers hear True.
    assert outcomes == [True, False, False, True]
    assert batcher.flushes == 1
    written = await row(ctx, live.id)
    assert (written["state"], written["progress"], written["polls"]) == ("queued", 99, 3)
    assert (await row(ctx, stale.id))["state"] == "queued"
    assert (await row(ctx, ended.id))["state"] == "failed"
    assert (await row(ctx, ended.id))["next_run_at"] is None


async def test_json_columns_are_written_through_the_batch(ctx: AppContext) -> None:
    (task,) = await claimed_tasks(ctx, 1)
    batcher = WriteBatcher(ctx.db)

    assert await batcher.write(
        task, {"state": "collecting", "upstream_result": {"assets": [{"url": "https://x/1.mp4"}]}}
    )

    written = await row(ctx, task.id)
    assert written["state"] == "collecting"
    assert written["upstream_result"] == {"assets": [{"url": "https://x/1.mp4"}]}


async def test_unknown_or_fence_columns_are_refused_before_anything_is_queued(ctx: AppContext) -> None:
    (task,) = await claimed_tasks(ctx, 1)
    batcher = WriteBatcher(ctx.db)

    for values in ({"fence": 9}, {"no_such_column": 1}, {}):
        with pytest.raises(ValueError, match="not writable task columns"):
            await batcher.write(task, values)
    assert batcher.flushes == 0
    assert (await row(ctx, task.id))["fence"] == task.fence
