"""Task rows: insert, read, list, and the job operations (claim with lease, applying an update).

The worker's hot statements (claim, finish) are built once with bound parameters: building a
SQLAlchemy statement costs more CPU than running it on SQLite, thousands of times a second.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from typing import Any, Literal

from sqlalchemy import BigInteger, Integer, bindparam, func, insert, or_, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from imagine_gateway.core.records import Task
from imagine_gateway.core.states import ACTIVE, TaskState
from imagine_gateway.core.transitions import NewTask
from imagine_gateway.core.updates import TaskUpdate
from imagine_gateway.store.db import Database
from imagine_gateway.store.pagination import keyset_page
from imagine_gateway.store.pg_writes import PgConnection
from imagine_gateway.store.point_reads import MISS, TASK_OF_ACCOUNT, RowsQuery
from imagine_gateway.store.postings import Postings
from imagine_gateway.store.prepared import prepared
from imagine_gateway.store.tables import tasks

_ACTIVE = [s.value for s in ACTIVE]
_INSERT_TASK = prepared(insert(tasks))  # built once; the row's values come as parameters


async def insert_task(conn: AsyncConnection, new: NewTask, postings: Postings | None = None) -> Task:
    """Insert the task and post its reservation (or add it to ``postings``, posted before the
    transaction commits); ``insufficient_credits`` rolls both back."""
    if isinstance(conn, PgConnection):  # with the group's other new tasks (``pg_new_tasks``)
        await conn.new_tasks.insert(new.task.to_row(), None)
    else:
        await conn.execute(_INSERT_TASK, new.task.to_row())
    pending = Postings() if postings is None else postings
    pending.add(new.task, new.posting, now_ms=new.task.created_at)
    if postings is None:
        await pending.post(conn)
    return new.task  # every column was given: the row is this task, no need to read it back


async def apply(conn: AsyncConnection, update: TaskUpdate) -> bool:
    """Write ``update`` and post its ledger row, on the caller's transaction; False when the task
    is no longer where the update was made for (ended, another state, or the fence moved)."""
    values = update.values()
    if update.terminal:
        statement = _finish_statement(frozenset(values), _states(update.from_states), update.fenced)
        prefix = "f_"
    else:
        statement = _change_statement(frozenset(values), _states(update.from_states), update.fenced)
        prefix = "u_"
    params = {f"{prefix}{k}": v for k, v in values.items()}
    params |= {f"{prefix}task": update.task.id, f"{prefix}fence": update.task.fence}
    result = await conn.execute(statement, params)
    if result.rowcount != 1:
        return False
    postings = Postings()
    for posting in update.postings:  # a capture and the release of the rest, when settled to less
        postings.add(update.task, posting, now_ms=update.updated_at)
    await postings.post(conn)
    return True


@functools.cache
def _states(states: frozenset[TaskState]) -> tuple[str, ...]:
    return tuple(sorted(s.value for s in states))


async def get_task(conn: AsyncConnection, task_id: str, *, account_id: str | None = None) -> Task | None:
    query = select(tasks).where(tasks.c.id == task_id)
    if account_id is not None:
        query = query.where(tasks.c.account_id == account_id)
    row = (await conn.execute(query)).mappings().first()
    return Task.from_row(row) if row else None


async def find_task(db: Database, task_id: str, *, account_id: str) -> Task | None:
    """The account's task, read on the point-read path (the status endpoint's one query)."""
    found = await db.points.fetch(TASK_OF_ACCOUNT, task_id, account_id)
    if found is MISS:
        async with db.read() as conn:
            return await get_task(conn, task_id, account_id=account_id)
    return None if found is None else Task.from_row(found)  # type: ignore[arg-type]


async def states_of(conn: AsyncConnection, task_ids: Sequence[str]) -> dict[str, str]:
    """The state of each of ``task_ids`` that exists."""
    if not task_ids:
        return {}
    rows = await conn.execute(select(tasks.c.id, tasks.c.state).where(tasks.c.id.in_(list(task_ids))))
    return {task_id: state for task_id, state in rows}


async def find_tasks_page(
    db: Database,
    *,
    account_id: str,
    states: Sequence[str] | None = None,
    model: str | None = None,
    before: tuple[int, str] | None = None,
    after: tuple[int, str] | None = None,
    dialect: str | None = None,
    limit: int,
    newest_first: bool = True,
) -> list[Task]:
    """A page of the account's tasks: keyset pagination on (created_at, id), stable under
    concurrent inserts. Read on the point-read path (the list endpoint's one query), through
    SQLAlchemy when that path cannot serve it: the same statement either way."""
    position = before or after
    query = _page_query(
        len(states or ()),
        bool(model),
        bool(dialect),
        "before" if before is not None else "after" if after is not None else None,
        newest_first,
    )
    values: dict[str, Any] = {"account_id": account_id, "model": model, "dialect": dialect, "limit": limit}
    values |= {f"state_{i}": state for i, state in enumerate(states or ())}
    if position is not None:
        values["created"], values["rid"] = position
    found = await db.points.fetch_rows(query, values)
    if isinstance(found, list):
        return [Task.from_columns(row) for row in found]
    async with db.read() as conn:  # MISS
        rows = await conn.execute(query.select, values)
        return [Task.from_row(r) for r in rows.mappings()]


@functools.lru_cache(maxsize=64)
def _page_query(
    states: int, model: bool, dialect: bool, keyset: Literal["before", "after"] | None, newest_first: bool
) -> RowsQuery:
    """The page's statement for one shape of filters, with every value a bindparam."""
    query = select(tasks).where(tasks.c.account_id == bindparam("account_id"))
    if states:
        query = query.where(tasks.c.state.in_([bindparam(f"state_{i}") for i in range(states)]))
    if model:
        query = query.where(tasks.c.model == bindparam("model"))
    if dialect:
        query = query.where(tasks.c.dialect == bindparam("dialect"))
    position: tuple[Any, Any] = (bindparam("created", type_=BigInteger), bindparam("rid"))
    query = keyset_page(
        query,
        tasks,
        before=position if keyset == "before" else None,
        after=position if keyset == "after" else None,
        newest_first=newest_first,
        limit=bindparam("limit", type_=Integer),
    )
    return RowsQuery(tasks, query)


ClaimScope = Literal["all", "in_flight", "queued", "collect"]
"""Which due tasks a claim may take: every live one, or only jobs at an upstream (to reconcile or
poll), only new submissions, or only results to collect."""


async def claim_due(
    conn: AsyncConnection,
    *,
    owner: str,
    now_ms: int,
    lease_ms: int,
    limit: int,
    skip_locked: bool,
    scope: ClaimScope = "all",
) -> list[Task]:
    """Take up to ``limit`` due tasks whose lease is free or expired; bumps each one's fence.

    Jobs already at an upstream (polls, collects) come before new submissions, then the longest
    due first: under more load than the worker can carry, work in flight keeps its schedule and new
    work waits in ``queued`` (until its deadline), rather than every poll running late. The worker
    claims each kind apart (``scope``), each into its own slots.
    """
    if limit <= 0:
        return []
    result = await conn.execute(
        _claim_statement(skip_locked, scope),
        {"c_now": now_ms, "c_until": now_ms + lease_ms, "c_owner": owner, "c_limit": limit},
    )
    return [Task.from_row(r) for r in result.mappings()]


@functools.cache
def _claim_statement(skip_locked: bool, scope: ClaimScope) -> Any:
    now = bindparam("c_now", type_=BigInteger)
    states = {
        "all": _ACTIVE,
        "in_flight": [TaskState.SUBMITTING.value, TaskState.PROCESSING.value],
        "queued": [TaskState.QUEUED.value],
        "collect": [TaskState.COLLECTING.value],
    }[scope]
    # Several states: submissions last. One state: the index gives next_run_at order, so the claim
    # reads only the rows it takes.
    order = [tasks.c.state == TaskState.QUEUED.value] if len(states) > 1 else []
    due = (
        select(tasks.c.id)
        .where(
            tasks.c.next_run_at <= now,
            tasks.c.state.in_(states),
            or_(tasks.c.lease_expires_at.is_(None), tasks.c.lease_expires_at < now),
        )
        .order_by(*order, tasks.c.next_run_at)
        .limit(bindparam("c_limit"))
    )
    if skip_locked:
        due = due.with_for_update(skip_locked=True)
    return prepared(
        update(tasks)
        .where(tasks.c.id.in_(due.scalar_subquery()))
        .values(
            lease_owner=bindparam("c_owner"), lease_expires_at=bindparam("c_until"), fence=tasks.c.fence + 1
        )
        .returning(*tasks.c)
    )


@functools.lru_cache(maxsize=64)
def _finish_statement(columns: frozenset[str], from_states: tuple[str, ...], fenced: bool) -> Any:
    """Move a live, still-reserved task to a terminal state (at most once: the credits move with it)."""
    conditions = [
        tasks.c.id == bindparam("f_task"),
        tasks.c.state.in_(from_states),
        tasks.c.credits_state == "reserved",
    ]
    if fenced:
        conditions.append(tasks.c.fence == bindparam("f_fence"))
    return prepared(
        update(tasks)
        .where(*conditions)
        .values(
            next_run_at=None,
            lease_owner=None,
            lease_expires_at=None,
            fence=tasks.c.fence + 1,
            **{name: bindparam(f"f_{name}", type_=tasks.c[name].type) for name in sorted(columns)},
        )
    )


@functools.lru_cache(maxsize=64)
def _change_statement(columns: frozenset[str], from_states: tuple[str, ...], fenced: bool) -> Any:
    conditions = [tasks.c.id == bindparam("u_task"), tasks.c.state.in_(from_states)]
    if fenced:
        conditions.append(tasks.c.fence == bindparam("u_fence"))
    return prepared(
        update(tasks)
        .where(*conditions)
        .values({name: bindparam(f"u_{name}", type_=tasks.c[name].type) for name in sorted(columns)})
    )


async def release_leases(
    conn: AsyncConnection, held: Sequence[tuple[str, int]], *, owner: str, now_ms: int
) -> int:
    """Give back the leases ``owner`` holds on ``held`` (id, fence), due now; how many went back.

    A stopping worker's unfinished steps: another worker claims them at once instead of after the
    lease runs out. The fence moves on, so a late write of the interrupted step cannot land.
    """
    released = 0
    for task_id, fence in held:
        result = await conn.execute(
            update(tasks)
            .where(
                tasks.c.id == task_id,
                tasks.c.fence == fence,
                tasks.c.lease_owner == owner,
                tasks.c.state.in_(_ACTIVE),
            )
            .values(lease_owner=None, lease_expires_at=None, next_run_at=now_ms, fence=tasks.c.fence + 1)
        )
        released += result.rowcount
    return released


async def live_counts(conn: AsyncConnection) -> list[tuple[str, str, str, int]]:
    """(state, model, provider or "", count) of the tasks not yet ended: what a metrics scrape shows."""
    columns = (tasks.c.state, tasks.c.model, tasks.c.provider)
    result = await conn.execute(
        select(*columns, func.count()).where(tasks.c.state.in_(_ACTIVE)).group_by(*columns)
    )
    return [
        (str(state), str(model), provider or "", int(count)) for state, model, provider, count in result.all()
    ]


async def oldest_due_ms(conn: AsyncConnection, *, now_ms: int) -> int | None:
    """When the longest-waiting due task (live, unleased) was due; None when none waits."""
    result = await conn.execute(
        select(func.min(tasks.c.next_run_at)).where(
            tasks.c.next_run_at <= now_ms,
            tasks.c.state.in_(_ACTIVE),
            or_(tasks.c.lease_expires_at.is_(None), tasks.c.lease_expires_at < now_ms),
        )
    )
    value = result.scalar()
    return None if value is None else int(value)
