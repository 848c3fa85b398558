"""The worker's group commit: fenced write-backs of many tasks in one transaction, each answered alone."""

from __future__ import annotations

import asyncio
import dataclasses

import pytest

from imagine_gateway.core.transitions import Failed, transition
from imagine_gateway.runtime import Context
from imagine_gateway.store.writeback import WriteBatcher
from tests.worker.conftest import claimed_tasks, row


async def test_concurrent_writes_land_in_one_transaction_and_each_caller_hears_its_own_outcome(
    ctx: Context,
) -> None:
    live, stale, ended = await claimed_tasks(ctx, 3)
    batcher = WriteBatcher(ctx.db)
    assert await batcher.apply(transition(ended, Failed("generation_failed", "x"), ctx.clock.now_ms()))
    stale_copy = dataclasses.replace(stale, fence=stale.fence - 1)

    outcomes = await asyncio.gather(
        batcher.write(live, {"state": "collecting", "upstream_result": {"assets": [{"url": "u"}]}}),
        batcher.write(stale_copy, {"state": "collecting"}),
        batcher.write(ended, {"next_run_at": 1}),
        batcher.write(live, {"progress": 99, "polls": 3}),
    )

    # Both writes of ``live`` land, in order, as if applied one by one; each caller hears True.
    assert list(outcomes) == [True, False, False, True]
    assert batcher.flushes == 1  # the ending ran in a transaction of its own, not in a batch
    written = await row(ctx, live.id)
    assert (written["state"], written["progress"], written["polls"]) == ("collecting", 99, 3)
    assert written["upstream_result"] == {"assets": [{"url": "u"}]}
    assert (await row(ctx, stale.id))["state"] == "queued"
    assert (await row(ctx, ended.id))["state"] == "failed"
    assert (await row(ctx, ended.id))["next_run_at"] is None


async def test_json_columns_are_written_through_the_batch(ctx: Context) -> None:
    (task,) = await claimed_tasks(ctx, 1)
    batcher = WriteBatcher(ctx.db)

    assert await batcher.write(
        task, {"state": "collecting", "upstream_result": {"assets": [{"url": "https://x/1.mp4"}]}}
    )

    written = await row(ctx, task.id)
    assert written["state"] == "collecting"
    assert written["upstream_result"] == {"assets": [{"url": "https://x/1.mp4"}]}


async def test_unknown_or_fence_columns_are_refused_before_anything_is_queued(ctx: Context) -> None:
    (task,) = await claimed_tasks(ctx, 1)
    batcher = WriteBatcher(ctx.db)

    for values in ({"fence": 9}, {"no_such_column": 1}, {}):
        with pytest.raises(ValueError, match="not writable task columns"):
            await batcher.write(task, values)
    assert batcher.flushes == 0
    assert (await row(ctx, task.id))["fence"] == task.fence


async def test_a_renewal_never_leases_again_a_task_its_step_released(ctx: Context) -> None:
    same_batch, later_batch = await claimed_tasks(ctx, 2)
    batcher = WriteBatcher(ctx.db)
    released = {"next_run_at": 5, "lease_owner": None, "lease_expires_at": None}
    until = ctx.clock.now_ms() + 60_000

    outcomes = await asyncio.gather(
        batcher.write(same_batch, released),
        batcher.renew([same_batch], until_ms=until),
        batcher.write(later_batch, released),
    )
    late = await batcher.renew([later_batch], until_ms=until)

    assert (list(outcomes), late) == ([True, set(), True], set())
    for task in (same_batch, later_batch):
        stored = await row(ctx, task.id)
        assert (stored["lease_owner"], stored["lease_expires_at"], stored["next_run_at"]) == (None, None, 5)


async def test_a_renewal_extends_the_leases_still_held(ctx: Context) -> None:
    task, other = await claimed_tasks(ctx, 2)
    until = ctx.clock.now_ms() + 60_000

    assert await WriteBatcher(ctx.db).renew([task, other], until_ms=until) == {task.id, other.id}

    assert [(await row(ctx, t.id))["lease_expires_at"] for t in (task, other)] == [until, until]
