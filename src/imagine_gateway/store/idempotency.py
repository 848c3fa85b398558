"""Idempotency keys: (account, key) -> the task the first request created."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import bindparam, delete, insert, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from imagine_gateway.store.tables import idempotency_keys

# Built once, values bound per call: building a statement costs more than running it (every create).
_DROP_EXPIRED = delete(idempotency_keys).where(
    idempotency_keys.c.account_id == bindparam("i_account"),
    idempotency_keys.c.key == bindparam("i_key"),
    idempotency_keys.c.expires_at <= bindparam("i_now"),
)
_INSERT = insert(idempotency_keys)


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

    An expired record is replaced. On PostgreSQL a concurrent insert of the same key waits for the
    first transaction and then fails on the primary key, which is how exactly one request wins.
    """
    await conn.execute(_DROP_EXPIRED, {"i_account": account_id, "i_key": key, "i_now": now_ms})
    try:
        async with conn.begin_nested():
            await conn.execute(
                _INSERT,
                {
                    "account_id": account_id,
                    "key": key,
                    "fingerprint": fingerprint,
                    "task_id": task_id,
                    "created_at": now_ms,
                    "expires_at": now_ms + ttl_ms,
                },
            )
    except IntegrityError:
        return False
    return True


async def purge_expired(conn: AsyncConnection, *, now_ms: int) -> int:
    """Delete every record past its retention; how many were deleted."""
    result = await conn.execute(delete(idempotency_keys).where(idempotency_keys.c.expires_at <= now_ms))
    return result.rowcount
