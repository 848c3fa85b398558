"""A scenario run against a migrated database of its own, its ``Database`` disposed after."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import TypeVar

from imagine_gateway.store.db import Database
from imagine_gateway.store.migrate import upgrade

T = TypeVar("T")


def run_on(url: str, scenario: Callable[[Database], Awaitable[T]]) -> T:
    """Migrate ``url``, run ``scenario`` on a ``Database`` of it, and dispose of that; its result."""
    upgrade(url)

    async def run() -> T:
        db = Database(url)
        try:
            return await scenario(db)
        finally:
            await db.dispose()

    return asyncio.run(run())
