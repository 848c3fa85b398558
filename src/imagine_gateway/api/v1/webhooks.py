"""Webhook endpoints: /api/v1/webhooks (CRUD, rotate-secret, deliveries, test) and /api/v1/webhook-events.

All routes need the ``webhooks:manage`` scope. The signing secret is returned only by create and
rotate-secret; every other answer shows ``secret_preview``.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse

from imagine_gateway.api.context import AppContext
from imagine_gateway.api.deps import CanManageWebhooks, Ctx, read_json
from imagine_gateway.core.cursor import decode_cursor, encode_cursor
from imagine_gateway.core.errors import FieldError, NotFound, ValidationFailed, invalid
from imagine_gateway.core.ids import new_id
from imagine_gateway.core.records import WebhookDelivery, WebhookEndpoint
from imagine_gateway.core.timefmt import iso_ms
from imagine_gateway.delivery.webhooks import (
    EVENT_TYPES,
    TEST_EVENT_TYPE,
    WebhookDispatcher,
    check_webhook_url,
    event_envelope,
    new_secret,
    secret_preview,
)
from imagine_gateway.store import webhooks as store

router = APIRouter(prefix="/api/v1", tags=["webhooks"])

MAX_ENDPOINTS = 20
NAME_MAX = 200
CREATE_FIELDS = ("name", "url", "event_types")
UPDATE_FIELDS = ("name", "url", "event_types", "status")


def endpoint_view(endpoint: WebhookEndpoint, *, reveal_secret: bool = False) -> dict[str, Any]:
    view: dict[str, Any] = {
        "id": endpoint.id,
        "object": "webhook_endpoint",
        "name": endpoint.name,
        "url": endpoint.url,
        "event_types": list(endpoint.event_types),
        "status": endpoint.status,
        "secret_preview": secret_preview(endpoint.secret),
        "last_success_at": iso_ms(endpoint.last_success_at),
        "last_failure_at": iso_ms(endpoint.last_failure_at),
        "failure_count": endpoint.failure_count,
        "created_at": iso_ms(endpoint.created_at),
        "updated_at": iso_ms(endpoint.updated_at),
        "disabled_at": iso_ms(endpoint.disabled_at),
        "revoked_at": iso_ms(endpoint.revoked_at),
    }
    if reveal_secret:
        view["signing_secret"] = endpoint.secret
    return view


def delivery_view(delivery: WebhookDelivery) -> dict[str, Any]:
    return {
        "id": delivery.id,
        "object": "webhook_delivery",
        "endpoint_id": delivery.endpoint_id,
        "event_id": delivery.event_id,
        "event_type": delivery.event_type,
        "task_id": delivery.task_id,
        "url": delivery.url,
        "status": delivery.status,
        "attempts": delivery.attempts,
        "last_status_code": delivery.last_status_code,
        "last_error": delivery.last_error,
        "next_attempt_at": iso_ms(delivery.next_attempt_at),
        "created_at": iso_ms(delivery.created_at),
        "updated_at": iso_ms(delivery.updated_at),
        "delivered_at": iso_ms(delivery.delivered_at),
    }


@router.post("/webhooks", status_code=201, summary="Register a webhook endpoint")
async def create_endpoint(request: Request, ctx: Ctx, principal: CanManageWebhooks) -> JSONResponse:
    body = _object(await read_json(request), CREATE_FIELDS)
    if "url" not in body:
        raise invalid("url", "is required", "an https URL on a public host")
    url = await _url(ctx, body["url"])
    name = _name(body.get("name", url))
    event_types = _event_types(body.get("event_types", list(EVENT_TYPES)))
    now = ctx.clock.now_ms()
    async with ctx.db.write() as conn:
        if len(await store.list_endpoints(conn, principal.account_id)) >= MAX_ENDPOINTS:
            raise invalid("url", f"an account may have at most {MAX_ENDPOINTS} webhook endpoints")
        endpoint = await store.insert_endpoint(
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
    return JSONResponse(endpoint_view(endpoint, reveal_secret=True), status_code=201)


@router.get("/webhooks", summary="List the account's webhook endpoints, oldest first")
async def list_endpoints(ctx: Ctx, principal: CanManageWebhooks) -> dict[str, Any]:
    async with ctx.db.read() as conn:
        endpoints = await store.list_endpoints(conn, principal.account_id)
    return {"object": "list", "data": [endpoint_view(e) for e in endpoints], "has_more": False}


@router.get("/webhooks/{endpoint_id}", summary="Retrieve a webhook endpoint")
async def get_endpoint(endpoint_id: str, ctx: Ctx, principal: CanManageWebhooks) -> dict[str, Any]:
    async with ctx.db.read() as conn:
        endpoint = await _owned(conn, endpoint_id, principal.account_id, live=False)
    return endpoint_view(endpoint)


@router.patch("/webhooks/{endpoint_id}", summary="Change a webhook endpoint's name, URL, events or status")
async def update_endpoint(
    endpoint_id: str, request: Request, ctx: Ctx, principal: CanManageWebhooks
) -> dict[str, Any]:
    body = _object(await read_json(request), UPDATE_FIELDS)
    now = ctx.clock.now_ms()
    values: dict[str, Any] = {"updated_at": now}
    if "url" in body:
        values["url"] = await _url(ctx, body["url"])
    if "name" in body:
        values["name"] = _name(body["name"])
    if "event_types" in body:
        values["event_types"] = _event_types(body["event_types"])
    async with ctx.db.write() as conn:
        endpoint = await _owned(conn, endpoint_id, principal.account_id)
        if "status" in body:
            status = body["status"]
            if status not in ("active", "disabled"):
                raise invalid("status", f"unknown status {status!r}", ["active", "disabled"])
            if status != endpoint.status:
                values["status"] = status
                values["disabled_at"] = now if status == "disabled" else None
                if status == "active":
                    values["failure_count"] = 0
        endpoint = await store.update_endpoint(conn, endpoint_id, values)
    return endpoint_view(endpoint)


@router.delete("/webhooks/{endpoint_id}", summary="Delete (revoke) a webhook endpoint")
async def delete_endpoint(endpoint_id: str, ctx: Ctx, principal: CanManageWebhooks) -> dict[str, Any]:
    now = ctx.clock.now_ms()
    async with ctx.db.write() as conn:
        await _owned(conn, endpoint_id, principal.account_id)
        endpoint = await store.update_endpoint(
            conn, endpoint_id, {"status": "revoked", "revoked_at": now, "updated_at": now}
        )
    return endpoint_view(endpoint)


@router.post("/webhooks/{endpoint_id}/rotate-secret", summary="Replace the signing secret")
async def rotate_secret(endpoint_id: str, ctx: Ctx, principal: CanManageWebhooks) -> dict[str, Any]:
    now = ctx.clock.now_ms()
    async with ctx.db.write() as conn:
        await _owned(conn, endpoint_id, principal.account_id)
        endpoint = await store.update_endpoint(conn, endpoint_id, {"secret": new_secret(), "updated_at": now})
    return endpoint_view(endpoint, reveal_secret=True)


@router.get("/webhooks/{endpoint_id}/deliveries", summary="The endpoint's deliveries, newest first")
async def list_deliveries(
    endpoint_id: str,
    ctx: Ctx,
    principal: CanManageWebhooks,
    cursor: str | None = None,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
) -> dict[str, Any]:
    position = decode_cursor(cursor) if cursor else None
    async with ctx.db.read() as conn:
        await _owned(conn, endpoint_id, principal.account_id, live=False)
        rows = await store.list_deliveries(conn, endpoint_id, before=position, limit=limit + 1)
    more = len(rows) > limit
    rows = rows[:limit]
    return {
        "object": "list",
        "data": [delivery_view(d) for d in rows],
        "has_more": more,
        "next_cursor": encode_cursor(rows[-1].created_at, rows[-1].id) if more and rows else None,
    }


@router.post("/webhooks/{endpoint_id}/test", status_code=202, summary="Send a signed test event now")
async def send_test(endpoint_id: str, ctx: Ctx, principal: CanManageWebhooks) -> JSONResponse:
    now = ctx.clock.now_ms()
    event_id = new_id("evt")
    data = {"message": "A test event from Imagine Gateway.", "endpoint_id": endpoint_id}
    async with ctx.db.write() as conn:
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
    if ctx.webhook_dispatcher is not None:
        ctx.webhook_dispatcher.wake()
    return JSONResponse(delivery_view(delivery), status_code=202)


@router.get("/webhook-events", summary="The account's webhook events, newest first")
async def list_events(
    ctx: Ctx,
    principal: CanManageWebhooks,
    cursor: str | None = None,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
) -> dict[str, Any]:
    position = decode_cursor(cursor) if cursor else None
    async with ctx.db.read() as conn:
        rows = await store.list_events(conn, principal.account_id, before=position, limit=limit + 1)
    more = len(rows) > limit
    rows = rows[:limit]
    return {
        "object": "list",
        "data": [e.payload for e in rows],
        "has_more": more,
        "next_cursor": encode_cursor(rows[-1].created_at, rows[-1].id) if more and rows else None,
    }


async def _owned(conn: Any, endpoint_id: str, account_id: str, *, live: bool = True) -> WebhookEndpoint:
    endpoint = await store.get_endpoint(conn, endpoint_id, account_id=account_id)
    if endpoint is None or (live and endpoint.status == "revoked"):
        raise NotFound(f"Webhook endpoint {endpoint_id} was not found.")
    return endpoint


def _object(body: Any, allowed: tuple[str, ...]) -> dict[str, Any]:
    if not isinstance(body, dict):
        raise invalid("body", "must be a JSON object", list(allowed))
    unknown = [FieldError(k[:100], "unknown field", list(allowed)) for k in body if k not in allowed]
    if unknown:
        raise ValidationFailed(f"{unknown[0].field}: unknown field", unknown)
    return body


async def _url(ctx: AppContext, value: Any) -> str:
    if not isinstance(value, str) or not value:
        raise invalid("url", "must be a non-empty string", "an https URL on a public host")
    return await check_webhook_url(value, allow_private=ctx.settings.webhook_allow_private)


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
