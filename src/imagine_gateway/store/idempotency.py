"""Idempotency keys: (account, key) -> the task the first request created."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import bindparam, delete, select
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncConnection

from imagine_gateway.store.prepared import prepared
from imagine_gateway.store.tables import idempotency_keys


def _claim_statement(insert_of: Any) -> Any:
    """Insert the key, or take over a record of it whose retention ended; a live record is left
    alone (no row changes). Built once per dialect: building costs more than running it."""
    statement = insert_of(idempotency_keys)
    replaced = {
        name: statement.excluded[name] for name in ("fingerprint", "task_id", "created_at", "expires_at")
    }
    return prepared(
        statement.on_conflict_do_update(
            index_elements=[idempotency_keys.c.account_id, idempotency_keys.c.key],
            set_=replaced,
            where=idempotency_keys.c.expires_at <= bindparam("i_now"),
        )
    )


_CLAIM = {"sqlite": _claim_statement(sqlite_insert), "postgresql": _claim_statement(postgresql_insert)}


@dataclass(frozen=True)
class IdempotencyRecord:
    fingerprint: str
    task_id: str


async def lookup(
    conn: AsyncConnection, account_id: str, key: str, *, now_ms: int
) -> IdempotencyRecord | None:
    row = (
        await conn.execute(
            select(idempotency_keys.c.fingerprint, idempotency_keys.c.task_id).where(
                idempotency_keys.c.account_id == account_id,
                idempotency_keys.c.key == key,
                idempotency_keys.c.expires_at > now_ms,
            )
        )
    ).first()
    return IdempotencyRecord(row[0], row[1]) if row else None


async def claim(
    conn: AsyncConnection,
    account_id: str,
    key: str,
    *,
    fingerprint: str,
    task_id: str,
    now_ms: int,
    ttl_ms: int,
) -> bool:
    """Record the key for a new task; False when another request holds it already.

    An expired record is replaced, in the same statement. On PostgreSQL a concurrent insert of the
    same key waits for the first transaction; once that one committed, its record is live and this
    statement changes nothing, which is how exactly one request wins. (SQLite has one writer.)
    """
    result = await conn.execute(
        _CLAIM[conn.dialect.name],
        {
            "account_id": account_id,
            "key": key,
            "fingerprint": fingerprint,
            "task_id": task_id,
            "created_at": now_ms,
            "expires_at": now_ms + ttl_ms,
            "i_now": now_ms,
        },
    )
    return bool(result.rowcount == 1)


async def purge_expired(conn: AsyncConnection, *, now_ms: int) -> int:
    """Delete every record past its retention; how many were deleted."""
    result = await conn.execute(delete(idempotency_keys).where(idempotency_keys.c.expires_at <= now_ms))
    return result.rowcount
