"""The asyncpg pools of the store's direct paths on PostgreSQL (point reads, groups of creates).

asyncpg resets a connection as the pool takes it back: an open transaction is rolled back, and then
one more statement (``RESET ALL``, ``UNLISTEN *``, ``CLOSE ALL``, releasing advisory locks) undoes
any session state. These paths never make such state: they run single statements or transactions
that end, never ``SET``, ``LISTEN``, a cursor or an advisory lock. So their pools keep the rollback,
which asyncpg always does, and skip that statement, which was one more round trip per read and per
group of creates.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any


async def open_pool(dsn: str, *, size: int, init: Callable[[Any], Awaitable[None]] | None = None) -> Any:
    """A pool of up to ``size`` connections to ``dsn`` that are not reset on release (see above)."""
    import asyncpg  # type: ignore[import-untyped]  # here: a gateway on SQLite never loads it

    return await asyncpg.create_pool(dsn, min_size=1, max_size=size, init=init, reset=_no_session_state)


async def _no_session_state(_connection: Any) -> None:
    """The pool's reset: nothing beyond asyncpg's own rollback (see the module's docstring)."""
