"""Which due tasks a worker takes first."""

from __future__ import annotations

import asyncio
from pathlib import Path

from sqlalchemy import func, select

from imagine_gateway.core.records import Task
from imagine_gateway.runtime import Context
from imagine_gateway.store.tables import tasks
from imagine_gateway.store.writeback import WriteBatcher
from imagine_gateway.worker.runner import Worker
from tests.worker.conftest import (
    claim,
    claimed_tasks,
    create_tasks,
    gateway_context,
    row,
    silent_upstream,
    worker_parts,
)


async def test_due_polls_are_claimed_before_older_queued_submissions(ctx: Context) -> None:
    (in_flight,) = await claimed_tasks(ctx, 1)
    now = ctx.clock.now_ms()
    assert await WriteBatcher(ctx.db).write(
        in_flight,
        {"state": "processing", "next_run_at": now + 500, "lease_owner": None, "lease_expires_at": None},
    )
    await create_tasks(ctx, 2)  # queued, due since their creation: earlier than the poll

    first = await claim(ctx, 1, at_ms=now + 1000)
    rest = await claim(ctx, 5, at_ms=now + 1000)

    assert [t.id for t in first] == [in_flight.id]
    assert [t.state for t in rest] == ["queued", "queued"]


async def test_a_claimed_task_is_not_claimed_again_while_its_lease_runs(ctx: Context) -> None:
    (taken,) = await claimed_tasks(ctx, 1)

    assert await claim(ctx, 5) == []
    assert [t.id for t in await claim(ctx, 5, at_ms=taken.lease_expires_at + 1)] == [taken.id]  # type: ignore[operator]


async def test_results_to_collect_are_claimed_apart_from_submissions_and_polls(ctx: Context) -> None:
    polled, *to_collect = await claimed_tasks(ctx, 3)
    batcher, now = WriteBatcher(ctx.db), ctx.clock.now_ms()
    for task, state in ((polled, "processing"), *((t, "collecting") for t in to_collect)):
        released = {"state": state, "next_run_at": now, "lease_owner": None, "lease_expires_at": None}
        assert await batcher.write(task, released)

    steps = await claim(ctx, 10, scope="in_flight")
    first_collect = await claim(ctx, 1, scope="collect")
    second_collect = await claim(ctx, 5, scope="collect")

    assert [(t.id, t.state) for t in steps] == [(polled.id, "processing")]
    assert {t.id for t in (*first_collect, *second_collect)} == {t.id for t in to_collect}
    assert (len(first_collect), len(second_collect)) == (1, 1)


async def test_a_worker_leases_no_more_results_than_its_collect_queue_holds(tmp_path: Path) -> None:
    # One collect slot: a queue of sixteen.
    async with gateway_context(tmp_path, run_worker=True, worker_collect_concurrency=1) as ctx:
        assert ctx.worker is not None
        batcher, now = WriteBatcher(ctx.db), ctx.clock.now_ms()
        for task in await claimed_tasks(ctx, 20):
            # A provider no longer configured: each collect step ends its task at once.
            values = {"state": "collecting", "provider": "gone", "upstream_id": "u", "next_run_at": now}
            assert await batcher.write(task, {**values, "lease_owner": None, "lease_expires_at": None})

        claimed = await ctx.worker.claim_and_start()
        leased = await leases(ctx)
        await ctx.worker.drain()

        assert (claimed, leased) == (16, {ctx.worker.owner: 16, None: 4})
        assert await states(ctx) == {"failed": 16, "collecting": 4}
        assert await ctx.worker.claim_and_start() == 4


async def leases(ctx: Context) -> dict[str | None, int]:
    """How many live tasks each lease owner holds (None: not leased)."""
    query = select(tasks.c.lease_owner, func.count()).where(tasks.c.next_run_at.is_not(None))
    async with ctx.db.read() as conn:
        return dict(((owner, n) for owner, n in await conn.execute(query.group_by(tasks.c.lease_owner))))


async def states(ctx: Context) -> dict[str, int]:
    async with ctx.db.read() as conn:
        query = select(tasks.c.state, func.count()).group_by(tasks.c.state)
        return {state: n for state, n in await conn.execute(query)}


async def test_results_waiting_in_the_collect_queue_keep_their_leases(tmp_path: Path) -> None:
    async with silent_upstream() as (base_url, _):
        settings = {"worker_collect_concurrency": 1, "XAI_API_KEY": "k", "XAI_BASE_URL": base_url}
        # A lease of 0.6 s: the keeper renews every 0.2 s. The worker stops the hanging downloads
        # half a second into its drain.
        async with gateway_context(
            tmp_path, run_worker=True, lease_s=0.6, shutdown_grace_s=0.5, **settings
        ) as ctx:
            assert ctx.worker is not None
            batcher, now = WriteBatcher(ctx.db), ctx.clock.now_ms()
            asset = {"url": f"{base_url}/result.mp4", "kind": "video", "mime_type": "video/mp4"}
            for task in await claimed_tasks(ctx, 4):
                values = {"state": "collecting", "provider": "xai", "upstream_id": "u", "next_run_at": now}
                values |= {"upstream_result": {"assets": [asset]}, "lease_owner": None}
                assert await batcher.write(task, {**values, "lease_expires_at": None})

            assert await ctx.worker.claim_and_start() == 4  # one downloading (it hangs), three waiting
            first = await lease_ends(ctx)
            await asyncio.sleep(0.5)
            later = await lease_ends(ctx)

            assert len(first) == 4
            assert all(later[task_id] > ends for task_id, ends in first.items())


async def lease_ends(ctx: Context) -> dict[str, int]:
    """When each leased task's lease runs out."""
    query = select(tasks.c.id, tasks.c.lease_expires_at).where(tasks.c.lease_owner.is_not(None))
    async with ctx.db.read() as conn:
        return {task_id: ends for task_id, ends in await conn.execute(query)}


async def release_as_due_poll(ctx: Context, task: Task, due_ms: int) -> None:
    """``task``, claimed, written back unleased as a job at an upstream whose poll is due at ``due_ms``."""
    polled = {"state": "processing", "provider": "gone", "upstream_id": "u", "next_run_at": due_ms}
    assert await WriteBatcher(ctx.db).write(task, polled | {"lease_owner": None, "lease_expires_at": None})


async def test_due_polls_are_claimed_even_when_submissions_fill_their_own_queue(tmp_path: Path) -> None:
    # Two submission slots: a queue of eight.
    slots = {"worker_concurrency": 4, "worker_submit_concurrency": 2}
    async with gateway_context(tmp_path, run_worker=True, **slots) as ctx:
        assert ctx.worker is not None
        (in_flight,) = await claimed_tasks(ctx, 1)
        await release_as_due_poll(ctx, in_flight, ctx.clock.now_ms())
        await create_tasks(ctx, 10)

        claimed = await ctx.worker.claim_and_start()
        leased = await leased_states(ctx)

        assert claimed == 9
        assert leased == {("processing", True): 1, ("queued", True): 8, ("queued", False): 2}


async def test_a_worker_runs_no_more_submissions_at_once_than_its_slots(tmp_path: Path) -> None:
    async with silent_upstream() as (base_url, requests):
        settings = {"worker_submit_concurrency": 2, "XAI_API_KEY": "k", "XAI_BASE_URL": base_url}
        async with gateway_context(tmp_path, run_worker=True, shutdown_grace_s=0.5, **settings) as ctx:
            assert ctx.worker is not None
            await create_tasks(ctx, 10)

            claimed = await ctx.worker.claim_and_start()
            for _ in range(100):  # the first submissions reach the upstream, which never answers
                if len(requests) >= 2:
                    break
                await asyncio.sleep(0.05)
            await asyncio.sleep(0.2)  # time enough for a third, if one were let through
            leased = await leased_states(ctx)

            assert (claimed, len(requests)) == (8, 2)
            assert leased == {("submitting", True): 2, ("queued", True): 6, ("queued", False): 2}


async def leased_states(ctx: Context) -> dict[tuple[str, bool], int]:
    """How many live tasks are in each state, leased or not."""
    leased = tasks.c.lease_owner.is_not(None)
    query = select(tasks.c.state, leased, func.count()).where(tasks.c.next_run_at.is_not(None))
    async with ctx.db.read() as conn:
        rows = await conn.execute(query.group_by(tasks.c.state, leased))
        return {(state, bool(is_leased)): n for state, is_leased, n in rows}


class GatedWorker(Worker):
    """A worker whose steps wait until their claim's gate opens (keyed by fence)."""

    def __init__(self, ctx: Context) -> None:
        super().__init__(**worker_parts(ctx))
        self.gates: dict[int, asyncio.Event] = {}

    async def step(self, task: Task) -> None:
        await self.gates.setdefault(task.fence, asyncio.Event()).wait()


async def test_a_step_ending_after_its_task_was_claimed_again_leaves_the_new_lease_renewed(
    tmp_path: Path,
) -> None:
    async with gateway_context(tmp_path, lease_s=0.6) as ctx:  # renewed every 0.2 s
        worker = GatedWorker(ctx)
        await create_tasks(ctx, 1)
        try:
            assert await worker.claim_and_start() == 1
            first = await only_task(ctx)
            # Its step released the task (say, a poll rescheduled it) but has not ended yet.
            released = {"next_run_at": ctx.clock.now_ms(), "lease_owner": None, "lease_expires_at": None}
            assert await WriteBatcher(ctx.db).write(first, released)
            assert await worker.claim_and_start() == 1  # the same task, claimed again

            worker.gates.setdefault(first.fence, asyncio.Event()).set()
            await asyncio.sleep(0.05)  # the first step ends
            before = await lease_ends(ctx)
            await asyncio.sleep(0.5)
            after = await lease_ends(ctx)

            assert before.keys() == after.keys() == {first.id}
            assert after[first.id] > before[first.id]
        finally:
            for gate in worker.gates.values():
                gate.set()
            await worker.drain()


async def only_task(ctx: Context) -> Task:
    """The one task in the database, as stored now."""
    async with ctx.db.read() as conn:
        return Task.from_row((await conn.execute(select(tasks))).mappings().one())


async def test_a_create_wakes_the_worker_for_submissions_without_claiming_kinds_found_empty(
    tmp_path: Path,
) -> None:
    # An idle poll of 10 s: a kind found empty is not claimed again for 2 s unless woken for.
    async with gateway_context(tmp_path, run_worker=True, worker_idle_poll_s=10) as ctx:
        assert ctx.worker is not None
        (in_flight,) = await claimed_tasks(ctx, 1)  # leased elsewhere: nothing of any kind is due
        assert await ctx.worker.claim_and_start() == 0
        # A poll comes due and two tasks are created.
        await release_as_due_poll(ctx, in_flight, 0)
        await create_tasks(ctx, 2)

        ctx.worker.wake_for_submissions()
        after_create = await ctx.worker.claim_and_start()
        poll_after_create = await row(ctx, in_flight.id)
        ctx.worker.wake()
        after_wake = await ctx.worker.claim_and_start()
        await ctx.worker.drain()

        assert (after_create, after_wake) == (2, 1)  # the two new tasks, then the poll
        assert (poll_after_create["state"], poll_after_create["lease_owner"]) == ("processing", None)


async def test_a_kind_found_empty_is_claimed_again_after_the_recheck_interval(tmp_path: Path) -> None:
    async with gateway_context(tmp_path, run_worker=True, worker_idle_poll_s=0.25) as ctx:  # 50 ms
        assert ctx.worker is not None
        (in_flight,) = await claimed_tasks(ctx, 1)
        assert await ctx.worker.claim_and_start() == 0
        await release_as_due_poll(ctx, in_flight, 0)

        await asyncio.sleep(0.05)
        later = await ctx.worker.claim_and_start()
        await ctx.worker.drain()

        assert later == 1
