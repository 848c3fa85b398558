"""A gateway context on a real SQLite file, with the worker stopped, and tasks claimed by hand."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from imagine_gateway.api.app import Overrides, build_context
from imagine_gateway.api.context import AppContext
from imagine_gateway.catalog.validation import validate_generation
from imagine_gateway.core.records import Task
from imagine_gateway.services.principal import ALL_SCOPES, Principal
from imagine_gateway.settings import load_settings
from imagine_gateway.store import tasks as task_store
from imagine_gateway.store.migrate import upgrade
from imagine_gateway.store.tables import tasks


@asynccontextmanager
async def gateway_context(
    home: Path, *, run_worker: bool = False, **settings: Any
) -> AsyncIterator[AppContext]:
    """A gateway context on a migrated SQLite file under ``home``, closed (worker drained) at the end."""
    built = load_settings(home=home, **settings)
    await asyncio.to_thread(upgrade, built.resolved_database_url)
    context = build_context(built, Overrides(run_worker=run_worker))
    try:
        yield context
    finally:
        if context.worker is not None:
            await context.worker.drain()
        await context.router.aclose()
        await context.storage.aclose()
        await context.db.dispose()


@pytest.fixture
async def ctx(tmp_path: Path) -> AsyncIterator[AppContext]:
    async with gateway_context(tmp_path / "gateway") as context:
        yield context


async def create_tasks(ctx: AppContext, count: int) -> None:
    """``count`` queued image tasks of a new account."""
    made = await ctx.accounts.create_key(name="t", credits=100)
    principal = Principal(account_id=made.account.id, api_key_id=made.key.id, scopes=frozenset(ALL_SCOPES))
    request = validate_generation(ctx.catalog, {"model": "grok-imagine", "prompt": "a fox"})
    for _ in range(count):
        await ctx.generations.create(principal, request)


async def claim(
    ctx: AppContext, limit: int, *, at_ms: int | None = None, scope: task_store.ClaimScope = "all"
) -> list[Task]:
    """What one worker claims now (or at ``at_ms``)."""
    now = ctx.clock.now_ms() + 1000 if at_ms is None else at_ms
    async with ctx.db.write() as conn:
        return await task_store.claim_due(
            conn,
            owner="w1",
            now_ms=now,
            lease_ms=30_000,
            limit=limit,
            skip_locked=not ctx.db.is_sqlite,
            scope=scope,
        )


async def claimed_tasks(ctx: AppContext, count: int) -> list[Task]:
    """``count`` new tasks, claimed by one worker."""
    await create_tasks(ctx, count)
    return await claim(ctx, count)


async def row(ctx: AppContext, task_id: str) -> dict[str, object]:
    """The task's stored row."""
    async with ctx.db.read() as conn:
        found = (await conn.execute(select(tasks).where(tasks.c.id == task_id))).mappings().one()
    return dict(found)
