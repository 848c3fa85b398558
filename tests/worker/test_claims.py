"""Which due tasks a worker takes first."""

from __future__ import annotations

from imagine_gateway.api.context import AppContext
from imagine_gateway.worker.writeback import WriteBatcher
from tests.worker.conftest import claim, claimed_tasks, create_tasks


async def test_due_polls_are_claimed_before_older_queued_submissions(ctx: AppContext) -> None:
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


async def test_a_claimed_task_is_not_claimed_again_while_its_lease_runs(ctx: AppContext) -> None:
    (taken,) = await claimed_tasks(ctx, 1)

    assert await claim(ctx, 5) == []
    assert [t.id for t in await claim(ctx, 5, at_ms=taken.lease_expires_at + 1)] == [taken.id]  # type: ignore[operator]
