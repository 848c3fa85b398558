"""The retention sweep also removes idempotency keys whose retention ended, and keeps the others."""

from __future__ import annotations

from sqlalchemy import select

from imagine_gateway.catalog.validation import validate_generation
from imagine_gateway.runtime import Context
from imagine_gateway.services.principal import ALL_SCOPES, Principal
from imagine_gateway.store.tables import idempotency_keys
from imagine_gateway.worker.sweeper import Sweeper, SweepStats

HOUR_MS = 3_600_000


class FixedClock:
    def __init__(self, now_ms: int) -> None:
        self.now = now_ms

    def now_ms(self) -> int:
        return self.now


async def test_the_sweep_removes_expired_idempotency_keys_and_keeps_live_ones(ctx: Context) -> None:
    made = await ctx.accounts.create_key(name="t", credits=100)
    principal = Principal(account_id=made.account.id, api_key_id=made.key.id, scopes=frozenset(ALL_SCOPES))
    request = validate_generation(ctx.catalog, {"model": "grok-imagine", "prompt": "a fox"})
    first = await ctx.generations.create(principal, request, idempotency_key="first")
    retention_ms = int(ctx.settings.idempotency_retention_s * 1000)
    first_expires = first.task.created_at + retention_ms
    sweeper = Sweeper(db=ctx.db, storage=ctx.storage, clock=FixedClock(first_expires - 1))

    before = await sweeper.sweep_once()
    second = await ctx.generations.create(principal, request, idempotency_key="second")
    sweeper.clock = FixedClock(first_expires)
    at_expiry = await sweeper.sweep_once()

    assert (before, at_expiry) == (SweepStats(), SweepStats(idempotency_keys_removed=1))
    assert await stored_keys(ctx) == [("second", second.task.id)]
    again = await ctx.generations.create(principal, request, idempotency_key="second")
    assert (again.replayed, again.task.id) == (True, second.task.id)


async def stored_keys(ctx: Context) -> list[tuple[str, str]]:
    query = select(idempotency_keys.c.key, idempotency_keys.c.task_id).order_by(idempotency_keys.c.key)
    async with ctx.db.read() as conn:
        return [(key, task_id) for key, task_id in await conn.execute(query)]
