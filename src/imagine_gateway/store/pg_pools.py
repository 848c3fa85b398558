"""The asyncpg pools of the store's direct paths on PostgreSQL (point reads, groups of creates).

asyncpg resets a connection as the pool takes it back: an open transaction is rolled back, and then
one more statement (``RESET ALL``, ``UNLISTEN *``, ``CLOSE ALL``, releasing advisory locks) undoes
any session state. These paths never make such state: they run single statements or transactions
that end, never ``SET``, ``LISTEN``, a cursor or an advisory lock. So their pools keep the rollback,
which asyncpg always does, and skip that statement, which was one more round trip per read and per
group of creates.

Their statements are planned once for every value (``plan_cache_mode=force_generic_plan``, PostgreSQL
12 and later). PostgreSQL otherwise plans each of a prepared statement's first five executions for
its values, and with statistics missing or stale (a new database, autovacuum off or not yet run)
such a plan can read every task of an account and sort them for a page of twenty, where the generic
plan walks the account's index backwards: on 13,805 tasks of one account, unanalyzed, 50 to 70 ms
against 0.3 ms. Each new pooled connection paid that five times.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any


async def open_pool(dsn: str, *, size: int, init: Callable[[Any], Awaitable[None]] | None = None) -> Any:
    """A pool of up to ``size`` connections to ``dsn`` that are not reset on release (see above)."""
    import asyncpg  # type: ignore[import-untyped]  # here: a gateway on SQLite never loads it

    return await asyncpg.create_pool(
        dsn,
        min_size=1,
        max_size=size,
        init=init,
        reset=_no_session_state,
        server_settings={"plan_cache_mode": "force_generic_plan"},
    )


async def _no_session_state(_connection: Any) -> None:
    """The pool's reset: nothing beyond asyncpg's own rollback (see the module's docstring)."""
