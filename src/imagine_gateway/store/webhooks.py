"""Webhook endpoints, events and deliveries: tables and the queries over them.

The tables live here rather than in ``tables.py`` so the webhook feature is one unit; they join the
same ``metadata`` (migration ``0004_webhooks``). A delivery row is the durable job of one event to one
target: ``next_attempt_at`` schedules it (NULL once it ended) and ``lease_expires_at`` keeps two
delivery loops (scale-out) from sending the same attempt twice.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Column,
    Index,
    Integer,
    String,
    Table,
    UniqueConstraint,
    and_,
    exists,
    insert,
    or_,
    select,
    update,
)
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from imagine_gateway.core.records import Task, WebhookDelivery, WebhookEndpoint, WebhookEvent
from imagine_gateway.store.pagination import keyset_page
from imagine_gateway.store.tables import metadata, tasks

# The outbox scan finds finished tasks by completion time.
Index("ix_tasks_completed_at", tasks.c.completed_at)

TASK_TARGET = "task_url"  # `target` of a delivery to a task's own webhook_url (not an endpoint)

webhook_endpoints = Table(
    "webhook_endpoints",
    metadata,
    Column("id", String(40), primary_key=True),
    Column("account_id", String(40), nullable=False),
    Column("name", String(200), nullable=False),
    Column("url", String(2000), nullable=False),
    Column("event_types", JSON, nullable=False),
    Column("status", String(16), nullable=False),  # active | disabled | revoked
    # Kept as-is because signing needs it (unlike API keys, which are stored hashed).
    Column("secret", String(100), nullable=False),
    Column("failure_count", Integer, nullable=False, default=0),
    Column("last_success_at", BigInteger, nullable=True),
    Column("last_failure_at", BigInteger, nullable=True),
    Column("created_at", BigInteger, nullable=False),
    Column("updated_at", BigInteger, nullable=False),
    Column("disabled_at", BigInteger, nullable=True),
    Column("revoked_at", BigInteger, nullable=True),
    Index("ix_webhook_endpoints_account_created", "account_id", "created_at"),
)

webhook_events = Table(
    "webhook_events",
    metadata,
    Column("id", String(40), primary_key=True),
    Column("account_id", String(40), nullable=False),
    Column("task_id", String(40), nullable=True),  # NULL for test events
    Column("type", String(64), nullable=False),
    Column("payload", JSON, nullable=False),  # the whole signed envelope
    Column("created_at", BigInteger, nullable=False),
    # One event per task ending, however many loops scan for it.
    UniqueConstraint("task_id", "type"),
    Index("ix_webhook_events_account_created", "account_id", "created_at", "id"),
)

webhook_deliveries = Table(
    "webhook_deliveries",
    metadata,
    Column("id", String(40), primary_key=True),
    Column("event_id", String(40), nullable=False),
    Column("account_id", String(40), nullable=False),
    Column("endpoint_id", String(40), nullable=True),
    Column("target", String(40), nullable=False),  # the endpoint id, or TASK_TARGET
    Column("event_type", String(64), nullable=False),
    Column("task_id", String(40), nullable=True),
    Column("url", String(2000), nullable=False),
    Column("status", String(16), nullable=False),  # pending | succeeded | failed
    Column("attempts", Integer, nullable=False, default=0),
    Column("next_attempt_at", BigInteger, nullable=True),
    Column("lease_expires_at", BigInteger, nullable=True),
    Column("last_status_code", Integer, nullable=True),
    Column("last_error", String(500), nullable=True),
    Column("created_at", BigInteger, nullable=False),
    Column("updated_at", BigInteger, nullable=False),
    Column("delivered_at", BigInteger, nullable=True),
    UniqueConstraint("event_id", "target"),
    Index("ix_webhook_deliveries_due", "next_attempt_at"),
    Index("ix_webhook_deliveries_endpoint_created", "endpoint_id", "created_at", "id"),
)

webhook_state = Table(
    "webhook_state",
    metadata,
    Column("name", String(64), primary_key=True),
    Column("value", BigInteger, nullable=False),
)

SCAN_WATERMARK = "scan_watermark_ms"


async def insert_endpoint(conn: AsyncConnection, values: dict[str, Any]) -> WebhookEndpoint:
    await conn.execute(insert(webhook_endpoints).values(failure_count=0, **values))
    found = await get_endpoint(conn, values["id"])
    assert found is not None
    return found


async def get_endpoint(
    conn: AsyncConnection, endpoint_id: str, *, account_id: str | None = None
) -> WebhookEndpoint | None:
    query = select(webhook_endpoints).where(webhook_endpoints.c.id == endpoint_id)
    if account_id is not None:
        query = query.where(webhook_endpoints.c.account_id == account_id)
    row = (await conn.execute(query)).mappings().first()
    return WebhookEndpoint.from_row(row) if row else None


async def list_endpoints(conn: AsyncConnection, account_id: str) -> list[WebhookEndpoint]:
    """The account's endpoints that were not deleted, oldest first."""
    rows = await conn.execute(
        select(webhook_endpoints)
        .where(webhook_endpoints.c.account_id == account_id, webhook_endpoints.c.status != "revoked")
        .order_by(webhook_endpoints.c.created_at, webhook_endpoints.c.id)
    )
    return [WebhookEndpoint.from_row(r) for r in rows.mappings()]


async def update_endpoint(conn: AsyncConnection, endpoint_id: str, values: dict[str, Any]) -> WebhookEndpoint:
    await conn.execute(
        update(webhook_endpoints).where(webhook_endpoints.c.id == endpoint_id).values(**values)
    )
    found = await get_endpoint(conn, endpoint_id)
    assert found is not None
    return found


async def account_signing_secret(conn: AsyncConnection, account_id: str) -> str | None:
    """The secret that signs deliveries to a task's own ``webhook_url``: the oldest live endpoint's."""
    row = (
        await conn.execute(
            select(webhook_endpoints.c.secret)
            .where(webhook_endpoints.c.account_id == account_id, webhook_endpoints.c.status != "revoked")
            .order_by(webhook_endpoints.c.created_at, webhook_endpoints.c.id)
            .limit(1)
        )
    ).first()
    return str(row[0]) if row else None


async def record_outcome(conn: AsyncConnection, endpoint_id: str, *, ok: bool, now_ms: int) -> None:
    """Endpoint health: success resets the run of failures, a failure extends it."""
    values: dict[str, Any]
    if ok:
        values = {"last_success_at": now_ms, "failure_count": 0}
    else:
        values = {"last_failure_at": now_ms, "failure_count": webhook_endpoints.c.failure_count + 1}
    await conn.execute(
        update(webhook_endpoints).where(webhook_endpoints.c.id == endpoint_id).values(**values)
    )


# The outbox scan


async def watermark(conn: AsyncConnection) -> int | None:
    row = (
        await conn.execute(select(webhook_state.c.value).where(webhook_state.c.name == SCAN_WATERMARK))
    ).first()
    return int(row[0]) if row else None


async def set_watermark(conn: AsyncConnection, value_ms: int) -> None:
    moved = await conn.execute(
        update(webhook_state)
        .where(webhook_state.c.name == SCAN_WATERMARK, webhook_state.c.value < value_ms)
        .values(value=value_ms)
    )
    if moved.rowcount == 0 and await watermark(conn) is None:
        await insert_ignoring_duplicate(conn, webhook_state, {"name": SCAN_WATERMARK, "value": value_ms})


async def finished_tasks_to_announce(
    conn: AsyncConnection, *, since_ms: int, after: tuple[int, str] | None, limit: int
) -> list[Task]:
    """Succeeded or failed tasks completed at or after ``since_ms`` that someone listens for and that
    have no event yet, in (completed_at, id) order after ``after``."""
    listened = or_(
        tasks.c.webhook_url.is_not(None),
        tasks.c.account_id.in_(
            select(webhook_endpoints.c.account_id).where(webhook_endpoints.c.status == "active")
        ),
    )
    query = select(tasks).where(
        tasks.c.completed_at >= since_ms,
        tasks.c.state.in_(["succeeded", "failed"]),
        listened,
        ~exists().where(webhook_events.c.task_id == tasks.c.id),
    )
    if after is not None:
        done_at, task_id = after
        query = query.where(
            or_(
                tasks.c.completed_at > done_at,
                and_(tasks.c.completed_at == done_at, tasks.c.id > task_id),
            )
        )
    rows = await conn.execute(query.order_by(tasks.c.completed_at, tasks.c.id).limit(limit))
    return [Task.from_row(r) for r in rows.mappings()]


async def insert_event(conn: AsyncConnection, values: dict[str, Any]) -> bool:
    """False when this task's event of this type exists already (another loop was first)."""
    return await insert_ignoring_duplicate(conn, webhook_events, values)


async def insert_delivery(conn: AsyncConnection, values: dict[str, Any]) -> bool:
    return await insert_ignoring_duplicate(conn, webhook_deliveries, values)


async def insert_ignoring_duplicate(conn: AsyncConnection, table: Table, values: dict[str, Any]) -> bool:
    try:
        async with conn.begin_nested():
            await conn.execute(insert(table).values(**values))
    except IntegrityError:
        return False
    return True


async def get_event(conn: AsyncConnection, event_id: str) -> WebhookEvent | None:
    row = (
        (await conn.execute(select(webhook_events).where(webhook_events.c.id == event_id))).mappings().first()
    )
    return WebhookEvent.from_row(row) if row else None


async def list_events(
    conn: AsyncConnection, account_id: str, *, before: tuple[int, str] | None, limit: int
) -> list[WebhookEvent]:
    query = select(webhook_events).where(webhook_events.c.account_id == account_id)
    rows = await conn.execute(keyset_page(query, webhook_events, before=before, limit=limit))
    return [WebhookEvent.from_row(r) for r in rows.mappings()]


# Deliveries


async def get_delivery(conn: AsyncConnection, delivery_id: str) -> WebhookDelivery | None:
    row = (
        (await conn.execute(select(webhook_deliveries).where(webhook_deliveries.c.id == delivery_id)))
        .mappings()
        .first()
    )
    return WebhookDelivery.from_row(row) if row else None


async def due_deliveries(conn: AsyncConnection, *, now_ms: int, limit: int) -> list[WebhookDelivery]:
    rows = await conn.execute(
        select(webhook_deliveries)
        .where(
            webhook_deliveries.c.next_attempt_at <= now_ms,
            or_(
                webhook_deliveries.c.lease_expires_at.is_(None),
                webhook_deliveries.c.lease_expires_at <= now_ms,
            ),
        )
        .order_by(webhook_deliveries.c.next_attempt_at)
        .limit(limit)
    )
    return [WebhookDelivery.from_row(r) for r in rows.mappings()]


async def claim_delivery(
    conn: AsyncConnection, delivery: WebhookDelivery, *, now_ms: int, lease_ms: int
) -> bool:
    """Take the lease on one due attempt; False when another loop holds it or it moved on."""
    moved = await conn.execute(
        update(webhook_deliveries)
        .where(
            webhook_deliveries.c.id == delivery.id,
            webhook_deliveries.c.status == "pending",
            webhook_deliveries.c.attempts == delivery.attempts,
            webhook_deliveries.c.next_attempt_at <= now_ms,
            or_(
                webhook_deliveries.c.lease_expires_at.is_(None),
                webhook_deliveries.c.lease_expires_at <= now_ms,
            ),
        )
        .values(lease_expires_at=now_ms + lease_ms)
    )
    return moved.rowcount == 1


async def finish_attempt(
    conn: AsyncConnection,
    delivery: WebhookDelivery,
    *,
    status: str,
    status_code: int | None,
    error: str | None,
    next_attempt_at: int | None,
    now_ms: int,
) -> None:
    await conn.execute(
        update(webhook_deliveries)
        .where(webhook_deliveries.c.id == delivery.id, webhook_deliveries.c.attempts == delivery.attempts)
        .values(
            status=status,
            attempts=delivery.attempts + 1,
            next_attempt_at=next_attempt_at,
            lease_expires_at=None,
            last_status_code=status_code,
            last_error=error[:500] if error else None,
            updated_at=now_ms,
            delivered_at=now_ms if status == "succeeded" else None,
        )
    )


async def list_deliveries(
    conn: AsyncConnection, endpoint_id: str, *, before: tuple[int, str] | None, limit: int
) -> list[WebhookDelivery]:
    query = select(webhook_deliveries).where(webhook_deliveries.c.endpoint_id == endpoint_id)
    rows = await conn.execute(keyset_page(query, webhook_deliveries, before=before, limit=limit))
    return [WebhookDelivery.from_row(r) for r in rows.mappings()]


def active_subscribers(
    endpoints: Sequence[WebhookEndpoint], event_type: str, *, at_ms: int
) -> list[WebhookEndpoint]:
    """Active endpoints that subscribe to ``event_type`` and existed when it happened."""
    return [
        e for e in endpoints if e.status == "active" and event_type in e.event_types and e.created_at <= at_ms
    ]
