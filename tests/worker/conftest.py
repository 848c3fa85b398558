"""A gateway context on a real SQLite file, with the worker stopped, and tasks claimed by hand."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from imagine_gateway.catalog.validation import validate_generation
from imagine_gateway.core.records import Task
from imagine_gateway.runtime import Context, Overrides, Runtime
from imagine_gateway.services.principal import ALL_SCOPES, Principal
from imagine_gateway.settings import load_settings
from imagine_gateway.store import tasks as task_store
from imagine_gateway.store.tables import tasks
from tests.conftest import SCHEMA


@asynccontextmanager
async def gateway_context(home: Path, *, run_worker: bool = False, **settings: Any) -> AsyncIterator[Context]:
    """A gateway's runtime on a migrated SQLite file under ``home``, its loops not running (a test drives
    the worker), closed (worker drained) at the end."""
    overrides = Overrides(run_worker=run_worker, start_loops=False, announce_sandbox=False)
    loaded = load_settings(home=home, **settings)
    SCHEMA.seed(loaded)  # the migrated template, as for every gateway the tests start
    async with Runtime(loaded, overrides) as runtime:
        yield runtime.context


@asynccontextmanager
async def silent_upstream() -> AsyncIterator[tuple[str, list[asyncio.StreamWriter]]]:
    """A loopback HTTP server that accepts connections and never answers: its base URL and the
    connections made so far. At the end they are closed, so whatever waited on them fails."""
    connections: list[asyncio.StreamWriter] = []

    async def never_answer(_reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        connections.append(writer)

    server = await asyncio.start_server(never_answer, "127.0.0.1", 0)
    try:
        yield f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}", connections
    finally:
        server.close()
        for writer in connections:
            writer.close()


@pytest.fixture
async def ctx(tmp_path: Path) -> AsyncIterator[Context]:
    async with gateway_context(tmp_path / "gateway") as context:
        yield context


def worker_parts(ctx: Context) -> dict[str, Any]:
    """What a ``Worker`` of this gateway is built from (for a test's own subclass)."""
    return {
        "db": ctx.db,
        "catalog": ctx.catalog,
        "router": ctx.router,
        "storage": ctx.storage,
        "references": ctx.references,
        "events": ctx.events,
        "clock": ctx.clock,
        "settings": ctx.settings,
    }


async def create_tasks(ctx: Context, count: int) -> None:
    """``count`` queued image tasks of a new account."""
    made = await ctx.accounts.create_key(name="t", credits=100)
    principal = Principal(account_id=made.account.id, api_key_id=made.key.id, scopes=frozenset(ALL_SCOPES))
    request = validate_generation(ctx.catalog, {"model": "grok-imagine", "prompt": "a fox"})
    for _ in range(count):
        await ctx.generations.create(principal, request)


async def claim(
    ctx: Context, limit: int, *, at_ms: int | None = None, scope: task_store.ClaimScope = "all"
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


async def claimed_tasks(ctx: Context, count: int) -> list[Task]:
    """``count`` new tasks, claimed by one worker."""
    await create_tasks(ctx, count)
    return await claim(ctx, count)


async def row(ctx: Context, task_id: str) -> dict[str, object]:
    """The task's stored row."""
    async with ctx.db.read() as conn:
        found = (await conn.execute(select(tasks).where(tasks.c.id == task_id))).mappings().one()
    return dict(found)
