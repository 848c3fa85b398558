"""Idempotency keys: (account, key) -> the task the first request created."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import bindparam, delete, insert, literal_column, select
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncConnection

from imagine_gateway.core.transitions import NewTask
from imagine_gateway.store import tasks as task_store
from imagine_gateway.store.pg_writes import PgConnection
from imagine_gateway.store.postings import Postings
from imagine_gateway.store.prepared import prepared
from imagine_gateway.store.tables import idempotency_keys, tasks


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


def _claim_with_task_statement() -> Any:
    """PostgreSQL: the claim (``i_`` parameters) and, when it took the key, the task's row (the
    columns' own names), in one statement: ``INSERT INTO tasks SELECT ... FROM claim``."""
    claimed = (
        _claim_statement(postgresql_insert)
        .values({c.name: bindparam(f"i_{c.name}", type_=c.type) for c in idempotency_keys.c})
        .returning(literal_column("1"))
        .cte("claim")
    )
    row = select(*(bindparam(c.name, type_=c.type) for c in tasks.c)).select_from(claimed)
    return prepared(insert(tasks).from_select([c.name for c in tasks.c], row))


_CLAIM_WITH_TASK = _claim_with_task_statement()


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
    values = _record(account_id, key, fingerprint, task_id, now_ms=now_ms, ttl_ms=ttl_ms)
    result = await conn.execute(_CLAIM[conn.dialect.name], values)
    return bool(result.rowcount == 1)


async def claim_with_task(
    conn: AsyncConnection, new: NewTask, postings: Postings, key: str, *, fingerprint: str, ttl_ms: int
) -> bool:
    """Claim ``key`` for the new task and, when it was free, insert the task and add its
    reservation to ``postings``; False when another request holds the key (nothing inserted).

    On PostgreSQL both go in one statement, so a create costs one round trip, not two; in a group
    on asyncpg one statement holds the whole group's (``pg_new_tasks``).
    """
    task = new.task
    if isinstance(conn, PgConnection):
        record = _record(task.account_id, key, fingerprint, task.id, now_ms=task.created_at, ttl_ms=ttl_ms)
        del record["i_now"]  # the statement compares with the record's own ``created_at``, the same time
        if not await conn.new_tasks.insert(task.to_row(), record):
            return False
        postings.add(task, new.posting, now_ms=task.created_at)
        return True
    if conn.dialect.name != "postgresql":
        won = await claim(
            conn,
            task.account_id,
            key,
            fingerprint=fingerprint,
            task_id=task.id,
            now_ms=task.created_at,
            ttl_ms=ttl_ms,
        )
        if won:
            await task_store.insert_task(conn, new, postings)
        return won
    record = _record(task.account_id, key, fingerprint, task.id, now_ms=task.created_at, ttl_ms=ttl_ms)
    values = {f"i_{name}": value for name, value in record.items() if name != "i_now"}
    values |= {"i_now": record["i_now"], **task.to_row()}
    if (await conn.execute(_CLAIM_WITH_TASK, values)).rowcount != 1:
        return False
    postings.add(task, new.posting, now_ms=task.created_at)
    return True


def _record(
    account_id: str, key: str, fingerprint: str, task_id: str, *, now_ms: int, ttl_ms: int
) -> dict[str, Any]:
    """A claim's parameters: the record, and the time before which a record of the key is expired."""
    return {
        "account_id": account_id,
        "key": key,
        "fingerprint": fingerprint,
        "task_id": task_id,
        "created_at": now_ms,
        "expires_at": now_ms + ttl_ms,
        "i_now": now_ms,
    }


async def purge_expired(conn: AsyncConnection, *, now_ms: int) -> int:
    """Delete every record past its retention; how many were deleted."""
    result = await conn.execute(delete(idempotency_keys).where(idempotency_keys.c.expires_at <= now_ms))
    return result.rowcount
