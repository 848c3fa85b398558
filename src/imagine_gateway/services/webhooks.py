"""Webhook endpoints of an account, their deliveries and the account's events.

Each method runs in one transaction and checks that the endpoint belongs to the caller (another
account's endpoint is ``not_found``). Values are checked before anything is written, so a refused
change changes nothing. Delivery itself is the dispatcher's (``delivery/webhooks.py``), which
``build_dispatcher`` makes for a process; a test event queued here wakes it, when it runs in this
process, so it goes out at once.

    dispatcher = build_dispatcher(db=db, settings=settings, clock=clock, render_task=view)
    webhooks = WebhookService(db=db, clock=clock, settings=settings, dispatcher=dispatcher)
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection

from imagine_gateway.core.clock import Clock
from imagine_gateway.core.errors import NotFound, invalid
from imagine_gateway.core.ids import new_id
from imagine_gateway.core.records import Task, WebhookDelivery, WebhookEndpoint, WebhookEvent
from imagine_gateway.delivery.webhook_urls import check_webhook_url
from imagine_gateway.delivery.webhooks import (
    EVENT_TYPES,
    TEST_EVENT_TYPE,
    WebhookDispatcher,
    event_envelope,
    new_secret,
)
from imagine_gateway.services.pagination import Page, page_of, read_cursor, whole
from imagine_gateway.services.principal import Principal
from imagine_gateway.settings import Settings
from imagine_gateway.store import webhooks as store
from imagine_gateway.store.db import Database

MAX_ENDPOINTS = 20
NAME_MAX = 200
STATUSES = ("active", "disabled")


def build_dispatcher(
    *,
    db: Database,
    settings: Settings,
    clock: Clock,
    render_task: Callable[[Task], dict[str, Any]],
) -> WebhookDispatcher | None:
    """The webhook delivery loop for a process, or ``None`` when ``webhook_delivery_enabled`` is off.

    ``render_task`` is how a task reads in an event's payload (the status endpoint's JSON of it).
    """
    if not settings.webhook_delivery_enabled:
        return None
    return WebhookDispatcher(db=db, settings=settings, clock=clock, render_task=render_task)


class WebhookService:
    """Register, change and remove webhook endpoints; list what was sent; send a test event."""

    def __init__(
        self,
        *,
        db: Database,
        clock: Clock,
        settings: Settings,
        dispatcher: WebhookDispatcher | None = None,
    ) -> None:
        self.db = db
        self.clock = clock
        self.settings = settings
        self.dispatcher = dispatcher

    async def create_endpoint(self, principal: Principal, fields: Mapping[str, Any]) -> WebhookEndpoint:
        """A new active endpoint (``url`` required; ``name`` defaults to it, ``event_types`` to all)."""
        if "url" not in fields:
            raise invalid("url", "is required", "an https URL on a public host")
        url = await self._url(fields["url"])
        name = _name(fields.get("name", url))
        event_types = _event_types(fields.get("event_types", list(EVENT_TYPES)))
        now = self.clock.now_ms()
        async with self.db.write() as conn:
            if len(await store.list_endpoints(conn, principal.account_id)) >= MAX_ENDPOINTS:
                raise invalid("url", f"an account may have at most {MAX_ENDPOINTS} webhook endpoints")
            return await store.insert_endpoint(
                conn,
                {
                    "id": new_id("whend"),
                    "account_id": principal.account_id,
                    "name": name,
                    "url": url,
                    "event_types": event_types,
                    "status": "active",
                    "secret": new_secret(),
                    "created_at": now,
                    "updated_at": now,
                },
            )

    async def list_endpoints(self, principal: Principal) -> Page[WebhookEndpoint]:
        """The account's endpoints that were not deleted, oldest first (always one page)."""
        async with self.db.read() as conn:
            return whole(await store.list_endpoints(conn, principal.account_id))

    async def get_endpoint(self, principal: Principal, endpoint_id: str) -> WebhookEndpoint:
        """The endpoint, deleted ones included."""
        async with self.db.read() as conn:
            return await _owned(conn, endpoint_id, principal.account_id, live=False)

    async def update_endpoint(
        self, principal: Principal, endpoint_id: str, fields: Mapping[str, Any]
    ) -> WebhookEndpoint:
        """Change ``name``, ``url``, ``event_types`` or ``status``; re-enabling clears the failure count."""
        now = self.clock.now_ms()
        values: dict[str, Any] = {"updated_at": now}
        if "url" in fields:
            values["url"] = await self._url(fields["url"])
        if "name" in fields:
            values["name"] = _name(fields["name"])
        if "event_types" in fields:
            values["event_types"] = _event_types(fields["event_types"])
        async with self.db.write() as conn:
            endpoint = await _owned(conn, endpoint_id, principal.account_id)
            if "status" in fields:
                status = fields["status"]
                if status not in STATUSES:
                    raise invalid("status", f"unknown status {status!r}", list(STATUSES))
                if status != endpoint.status:
                    values["status"] = status
                    values["disabled_at"] = now if status == "disabled" else None
                    if status == "active":
                        values["failure_count"] = 0
            return await store.update_endpoint(conn, endpoint_id, values)

    async def delete_endpoint(self, principal: Principal, endpoint_id: str) -> WebhookEndpoint:
        """Revoke the endpoint: it gets nothing more and its pending deliveries fail."""
        now = self.clock.now_ms()
        async with self.db.write() as conn:
            await _owned(conn, endpoint_id, principal.account_id)
            return await store.update_endpoint(
                conn, endpoint_id, {"status": "revoked", "revoked_at": now, "updated_at": now}
            )

    async def rotate_secret(self, principal: Principal, endpoint_id: str) -> WebhookEndpoint:
        """A new signing secret; the old one stops signing at once."""
        now = self.clock.now_ms()
        async with self.db.write() as conn:
            await _owned(conn, endpoint_id, principal.account_id)
            return await store.update_endpoint(conn, endpoint_id, {"secret": new_secret(), "updated_at": now})

    async def list_deliveries(
        self, principal: Principal, endpoint_id: str, *, cursor: str | None, limit: int
    ) -> Page[WebhookDelivery]:
        """The endpoint's deliveries, newest first."""
        position = read_cursor(cursor)
        async with self.db.read() as conn:
            await _owned(conn, endpoint_id, principal.account_id, live=False)
            rows = await store.list_deliveries(conn, endpoint_id, before=position, limit=limit + 1)
        return page_of(rows, limit)

    async def list_events(
        self, principal: Principal, *, cursor: str | None, limit: int
    ) -> Page[WebhookEvent]:
        """The account's events, newest first."""
        position = read_cursor(cursor)
        async with self.db.read() as conn:
            rows = await store.list_events(conn, principal.account_id, before=position, limit=limit + 1)
        return page_of(rows, limit)

    async def send_test(self, principal: Principal, endpoint_id: str) -> WebhookDelivery:
        """Queue a signed ``webhook.test`` event to the endpoint, due now; the delivery as queued."""
        now = self.clock.now_ms()
        event_id = new_id("evt")
        data = {"message": "A test event from Imagine Gateway.", "endpoint_id": endpoint_id}
        async with self.db.write() as conn:
            endpoint = await _owned(conn, endpoint_id, principal.account_id)
            await store.insert_event(
                conn,
                {
                    "id": event_id,
                    "account_id": principal.account_id,
                    "task_id": None,
                    "type": TEST_EVENT_TYPE,
                    "payload": event_envelope(event_id, TEST_EVENT_TYPE, created_at_ms=now, data=data),
                    "created_at": now,
                },
            )
            delivery_id = await WebhookDispatcher.queue(
                conn,
                event_id=event_id,
                event_type=TEST_EVENT_TYPE,
                account_id=principal.account_id,
                task_id=None,
                endpoint_id=endpoint.id,
                target=endpoint.id,
                url=endpoint.url,
                now_ms=now,
            )
            delivery = await store.get_delivery(conn, delivery_id)
        assert delivery is not None
        if self.dispatcher is not None:
            self.dispatcher.wake()
        return delivery

    async def _url(self, value: Any) -> str:
        if not isinstance(value, str) or not value:
            raise invalid("url", "must be a non-empty string", "an https URL on a public host")
        return await check_webhook_url(value, allow_private=self.settings.webhook_allow_private)


async def _owned(
    conn: AsyncConnection, endpoint_id: str, account_id: str, *, live: bool = True
) -> WebhookEndpoint:
    endpoint = await store.get_endpoint(conn, endpoint_id, account_id=account_id)
    if endpoint is None or (live and endpoint.status == "revoked"):
        raise NotFound(f"Webhook endpoint {endpoint_id} was not found.")
    return endpoint


def _name(value: Any) -> str:
    if not isinstance(value, str) or not value.strip():
        raise invalid("name", "must be a non-empty string")
    return value.strip()[:NAME_MAX]


def _event_types(value: Any) -> list[str]:
    if not isinstance(value, list) or not value:
        raise invalid("event_types", "must be a non-empty array", list(EVENT_TYPES))
    bad = [v for v in value if v not in EVENT_TYPES]
    if bad:
        raise invalid("event_types", f"unknown event type {bad[0]!r}", list(EVENT_TYPES))
    return sorted(set(value), key=EVENT_TYPES.index)


__all__ = ["MAX_ENDPOINTS", "WebhookService", "build_dispatcher"]
