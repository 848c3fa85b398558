"""Watching a task: its snapshots come on its events, and by polling when no event reaches this process."""

from __future__ import annotations

import asyncio
import contextlib
from pathlib import Path

from imagine_gateway.catalog.validation import validate_generation
from imagine_gateway.core.records import Task
from imagine_gateway.runtime import Context
from imagine_gateway.services.generations import Snapshot
from imagine_gateway.services.principal import ALL_SCOPES, Principal
from tests.worker.conftest import gateway_context


async def queued_task(ctx: Context) -> tuple[Principal, Task]:
    """A new account's queued image task (no worker runs)."""
    made = await ctx.accounts.create_key(name="w", credits=10)
    principal = Principal(account_id=made.account.id, api_key_id=made.key.id, scopes=frozenset(ALL_SCOPES))
    request = validate_generation(ctx.catalog, {"model": "grok-imagine", "prompt": "a fox"})
    return principal, (await ctx.generations.create(principal, request)).task


async def test_a_watch_ends_with_the_task_and_sees_a_change_made_elsewhere_by_polling(
    tmp_path: Path,
) -> None:
    home = tmp_path / "home"
    # Two contexts on one database, each with its own in-process event bus: two API processes.
    async with gateway_context(home) as here, gateway_context(home) as elsewhere:
        principal, task = await queued_task(here)
        seen: list[Snapshot] = []
        async with (
            asyncio.timeout(10),
            contextlib.aclosing(here.generations.watch(principal, task.id, poll_s=0.2)) as snapshots,
        ):
            async for snapshot in snapshots:
                seen.append(snapshot)
                if len(seen) == 1:
                    await elsewhere.generations.cancel(principal, task.id)

    assert [(s.task.state, s.quiet) for s in seen] == [("queued", False), ("canceled", True)]


async def test_a_watch_wakes_on_the_tasks_event_without_waiting_for_the_poll(tmp_path: Path) -> None:
    async with gateway_context(tmp_path / "home") as ctx:
        principal, task = await queued_task(ctx)
        seen: list[Snapshot] = []
        async with (
            asyncio.timeout(10),
            contextlib.aclosing(ctx.generations.watch(principal, task.id, poll_s=60)) as snapshots,
        ):
            async for snapshot in snapshots:
                seen.append(snapshot)
                if len(seen) == 1:
                    await ctx.generations.cancel(principal, task.id)

    assert [(s.task.state, s.quiet) for s in seen] == [("queued", False), ("canceled", False)]


async def test_a_watch_with_a_deadline_ends_after_one_last_read(tmp_path: Path) -> None:
    async with gateway_context(tmp_path / "home") as ctx:
        principal, task = await queued_task(ctx)
        deadline = asyncio.get_running_loop().time() + 0.3
        async with asyncio.timeout(10):
            seen = [s async for s in ctx.generations.watch(principal, task.id, poll_s=60, deadline=deadline)]

    assert [(s.task.state, s.quiet) for s in seen] == [("queued", False), ("queued", True)]
