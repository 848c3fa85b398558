"""File rows: uploads and fetched reference media, and the queries retention needs."""

from __future__ import annotations

from typing import Any

from sqlalchemy import and_, delete, insert, or_, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from imagine_gateway.core.records import FileRecord, Task
from imagine_gateway.core.states import TaskState
from imagine_gateway.core.transitions import ResultExpired, transition
from imagine_gateway.core.updates import TaskUpdate
from imagine_gateway.store.tables import files, tasks


async def insert_file(conn: AsyncConnection, values: dict[str, Any]) -> FileRecord:
    """Insert a row and return it as stored."""
    await conn.execute(insert(files).values(**values))
    record = await get_file(conn, values["id"])
    assert record is not None
    return record


async def get_file(
    conn: AsyncConnection, file_id: str, *, account_id: str | None = None
) -> FileRecord | None:
    """The file with this id (of this account when given), expired or not."""
    query = select(files).where(files.c.id == file_id)
    if account_id is not None:
        query = query.where(files.c.account_id == account_id)
    row = (await conn.execute(query)).mappings().first()
    return FileRecord.from_row(row) if row else None


async def latest_fetched(
    conn: AsyncConnection, *, account_id: str, source_url: str, now_ms: int
) -> FileRecord | None:
    """The newest unexpired copy of ``source_url`` fetched for this account."""
    query = (
        select(files)
        .where(
            files.c.account_id == account_id,
            files.c.origin == "url",
            files.c.source_url == source_url,
            files.c.expires_at > now_ms,
        )
        .order_by(files.c.created_at.desc())
        .limit(1)
    )
    row = (await conn.execute(query)).mappings().first()
    return FileRecord.from_row(row) if row else None


async def expired_files(conn: AsyncConnection, *, now_ms: int, limit: int) -> list[FileRecord]:
    """Up to ``limit`` files whose retention ended, oldest first."""
    query = select(files).where(files.c.expires_at <= now_ms).order_by(files.c.expires_at).limit(limit)
    return [FileRecord.from_row(r) for r in (await conn.execute(query)).mappings()]


async def delete_file(conn: AsyncConnection, file_id: str) -> bool:
    """Remove the row; False when it was already gone."""
    result = await conn.execute(delete(files).where(files.c.id == file_id))
    return result.rowcount == 1


def _not_marked_expired() -> Any:
    flag = tasks.c.result["expired"].as_boolean()
    return or_(flag.is_(None), flag.is_(False))


async def expired_results(conn: AsyncConnection, *, now_ms: int, limit: int) -> list[Task]:
    """Succeeded tasks past their retention whose result is not yet marked expired."""
    query = (
        select(tasks)
        .where(
            and_(
                tasks.c.state == TaskState.SUCCEEDED.value,
                tasks.c.expires_at <= now_ms,
                tasks.c.result.is_not(None),
                _not_marked_expired(),
            )
        )
        .order_by(tasks.c.expires_at)
        .limit(limit)
    )
    return [Task.from_row(r) for r in (await conn.execute(query)).mappings()]


async def mark_result_expired(conn: AsyncConnection, task: Task, *, now_ms: int) -> bool:
    """Keep the task's result metadata, flagged ``expired``; False when someone else did it first."""
    if task.result is None or task.result.expired:
        return False
    change = transition(task, ResultExpired(), now_ms)
    done = await conn.execute(
        update(tasks)
        .where(tasks.c.id == task.id, tasks.c.state.in_(_states(change)), _not_marked_expired())
        .values(change.values())
    )
    return done.rowcount == 1


def _states(change: TaskUpdate) -> list[str]:
    return [s.value for s in change.from_states]
