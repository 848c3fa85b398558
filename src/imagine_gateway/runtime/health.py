"""Readiness: whether this process can do its work now, check by check.

    database   reachable, and its schema at the revision this version ships
    storage    a small object can be written and removed
    redis      answers PING (only when configured)
    providers  every model of the catalog has a provider configured for it whose upstream does not
               refuse our key (a provider taken out for failing counts: it comes back by itself)
    shutdown   the process is not stopping (a load balancer stops sending it requests first)

Each check is bounded in time, so a dependency that hangs reads as a failed check, not a hung probe.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from imagine_gateway.delivery.redis_events import RedisEventBus
from imagine_gateway.runtime.context import Context
from imagine_gateway.store.migrate import current_revision, head_revision, known_revisions

CHECK_TIMEOUT_S = 3.0
PROBE_KEY_PREFIX = "readyz"


@dataclass(frozen=True)
class Check:
    """One check's outcome: ``ok`` and what it found (shown to the operator)."""

    ok: bool
    detail: str
    extra: dict[str, Any] | None = None

    def view(self) -> dict[str, Any]:
        shown: dict[str, Any] = {"status": "ok" if self.ok else "failing", "detail": self.detail}
        if self.extra:
            shown.update(self.extra)
        return shown


async def check_database(ctx: Context) -> Check:
    async with ctx.db.read() as conn:
        revision = await current_revision(conn)
    head = head_revision()
    if revision == head:
        return Check(True, f"reachable, schema at {head}")
    if revision is not None and revision not in known_revisions():
        # Migrated by a newer version during a rolling upgrade: this process still serves.
        return Check(True, f"reachable, schema at {revision}, newer than this version's {head}")
    return Check(
        False, f"schema at {revision or 'nothing'}, this version needs {head}: run `imagine db upgrade`"
    )


async def check_storage(ctx: Context) -> Check:
    key = f"{PROBE_KEY_PREFIX}/{uuid.uuid4().hex}"
    await ctx.storage.put_bytes(key, b"ok", content_type="text/plain")
    await ctx.storage.delete(key)
    return Check(True, "writable")


async def check_redis(ctx: Context) -> Check:
    events = ctx.events
    if not isinstance(events, RedisEventBus):  # pragma: no cover - checked only when configured
        return Check(True, "not configured")
    await events.ping()
    return Check(True, "reachable")


async def check_providers(ctx: Context) -> Check:
    router = ctx.router
    unserved = [model.id for model in ctx.catalog if not router.serving(model)]
    extra: dict[str, Any] = {"breakers": router.health(), "misconfigured": router.misconfigured()}
    if unserved:
        return Check(False, f"no usable provider for {', '.join(unserved)}", extra)
    return Check(True, "every model has a usable provider", extra)


Probe = Callable[[Context], Awaitable[Check]]


async def _bounded(probe: Probe, ctx: Context) -> Check:
    try:
        return await asyncio.wait_for(probe(ctx), CHECK_TIMEOUT_S)
    except TimeoutError:
        return Check(False, f"no answer within {CHECK_TIMEOUT_S:.0f} s")
    except Exception as exc:  # what failed is the answer
        return Check(False, f"{type(exc).__name__}: {str(exc)[:200]}")


async def readiness(ctx: Context, *, stopping: bool) -> tuple[bool, dict[str, Any]]:
    """Every check (run at once); ``(ready, body)`` with the body naming each check and its state."""
    probes: dict[str, Probe] = {
        "database": check_database,
        "storage": check_storage,
        "providers": check_providers,
    }
    if ctx.settings.redis_url:
        probes["redis"] = check_redis
    results = await asyncio.gather(*(_bounded(probe, ctx) for probe in probes.values()))
    checks = dict(zip(probes, results, strict=True))
    checks["shutdown"] = Check(not stopping, "stopping" if stopping else "running")
    ready = all(check.ok for check in checks.values())
    body = {
        "status": "ready" if ready else "not_ready",
        "checks": {name: check.view() for name, check in checks.items()},
    }
    return ready, body
