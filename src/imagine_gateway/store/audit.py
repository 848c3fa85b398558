"""The audit log and the admin API's idempotency records."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import insert, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncConnection

from imagine_gateway.store.tables import admin_requests, audit_log


@dataclass(frozen=True)
class AuditEntry:
    """One action: who (``actor``, a key id or ``cli``), what, on which target, when."""

    id: int
    created_at: int
    actor: str
    actor_account_id: str | None
    action: str
    target_type: str
    target_id: str
    account_id: str | None
    details: dict[str, Any] | None
    request_id: str | None


async def record(conn: AsyncConnection, **values: Any) -> None:
    """Append an audit row, on the caller's transaction (it commits with the change it records)."""
    await conn.execute(insert(audit_log).values(**values))


async def entries(
    conn: AsyncConnection,
    *,
    before_id: int | None,
    limit: int,
    account_id: str | None = None,
    actor: str | None = None,
    action: str | None = None,
) -> list[AuditEntry]:
    """Audit rows newest first (by id), optionally of one account, actor or action."""
    query = select(audit_log)
    if before_id is not None:
        query = query.where(audit_log.c.id < before_id)
    if account_id is not None:
        query = query.where(audit_log.c.account_id == account_id)
    if actor is not None:
        query = query.where(audit_log.c.actor == actor)
    if action is not None:
        query = query.where(audit_log.c.action == action)
    rows = await conn.execute(query.order_by(audit_log.c.id.desc()).limit(limit))
    return [AuditEntry(**dict(r)) for r in rows.mappings()]


@dataclass(frozen=True)
class StoredAnswer:
    fingerprint: str
    status: int
    response: dict[str, Any]


async def claim_request(
    conn: AsyncConnection, key: str, *, fingerprint: str, now_ms: int, is_sqlite: bool
) -> StoredAnswer | None:
    """Take ``key`` for this request (None), or the answer of the request that took it first.

    The row is written at once, before the work, so a concurrent retry waits on it (PostgreSQL) or
    runs after it (SQLite's one writer) and then sees the first answer.
    """
    dialect_insert = sqlite_insert if is_sqlite else pg_insert
    won = await conn.execute(
        dialect_insert(admin_requests)
        .values(key=key, fingerprint=fingerprint, status=0, response={}, created_at=now_ms)
        .on_conflict_do_nothing(index_elements=["key"])
    )
    if won.rowcount == 1:
        return None
    row = (await conn.execute(select(admin_requests).where(admin_requests.c.key == key))).mappings().one()
    return StoredAnswer(row["fingerprint"], row["status"], row["response"])


async def save_answer(conn: AsyncConnection, key: str, *, status: int, response: dict[str, Any]) -> None:
    """The answer a retry of ``key`` gets (same transaction as the work it answers for)."""
    await conn.execute(
        update(admin_requests).where(admin_requests.c.key == key).values(status=status, response=response)
    )
