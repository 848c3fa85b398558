"""The operator's services on the configured database, for the ``imagine`` commands (no server).

async with open_operator(settings) as op:
    report = await op.reports.margin(start="2026-12-01", end="2026-12-31")
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

from imagine_gateway.catalog.loader import load_catalog
from imagine_gateway.core.clock import Clock, SystemClock
from imagine_gateway.delivery.events import EventBus, MemoryEventBus
from imagine_gateway.delivery.redis_events import RedisEventBus
from imagine_gateway.services.accounts import AccountService
from imagine_gateway.services.admin import AdminService
from imagine_gateway.services.admin_credits import CreditAdmin
from imagine_gateway.services.reports import ReportService
from imagine_gateway.settings import Settings
from imagine_gateway.store.db import Database
from imagine_gateway.store.migrate import upgrade


@dataclass(frozen=True)
class Operator:
    """What the admin API calls, wired for a command line."""

    accounts: AccountService
    admin: AdminService
    credits: CreditAdmin
    reports: ReportService


@asynccontextmanager
async def open_operator(settings: Settings, *, clock: Clock | None = None) -> AsyncIterator[Operator]:
    """The services on the configured database, its schema brought up to date first; closed after."""
    url = settings.resolved_database_url
    await asyncio.to_thread(upgrade, url)
    db = Database(url)
    clock = clock or SystemClock()
    # With Redis, a change made here (a key revoked, an account disabled) reaches every running
    # gateway process at once; without it, within their IMAGINE_KEY_CACHE_S.
    events: EventBus = RedisEventBus(settings.redis_url) if settings.redis_url else MemoryEventBus()
    accounts = AccountService(db=db, clock=clock, events=events)
    try:
        yield Operator(
            accounts=accounts,
            admin=AdminService(
                db=db, clock=clock, catalog=load_catalog(settings.catalog_file), accounts=accounts
            ),
            credits=CreditAdmin(db=db, clock=clock),
            reports=ReportService(db=db, clock=clock, credit_usd=settings.usd_per_credit),
        )
    finally:
        await accounts.announced()
        await events.aclose()
        await db.dispose()


__all__ = ["Operator", "open_operator"]
