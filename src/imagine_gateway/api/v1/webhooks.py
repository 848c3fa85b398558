"""Webhook endpoints: /api/v1/webhooks (CRUD, rotate-secret, deliveries, test) and /api/v1/webhook-events.

All routes need the ``webhooks:manage`` scope. The signing secret is returned only by create and
rotate-secret; every other answer shows ``secret_preview``.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse

from imagine_gateway.api.deps import CanManageWebhooks, Ctx, read_json
from imagine_gateway.core.errors import FieldError, ValidationFailed, invalid
from imagine_gateway.core.records import WebhookDelivery, WebhookEndpoint
from imagine_gateway.core.timefmt import iso_ms
from imagine_gateway.delivery.webhooks import secret_preview

router = APIRouter(prefix="/api/v1", tags=["webhooks"])

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
    endpoint = await ctx.webhooks.create_endpoint(principal, body)
    return JSONResponse(endpoint_view(endpoint, reveal_secret=True), status_code=201)


@router.get("/webhooks", summary="List the account's webhook endpoints, oldest first")
async def list_endpoints(ctx: Ctx, principal: CanManageWebhooks) -> dict[str, Any]:
    page = await ctx.webhooks.list_endpoints(principal)
    return {"object": "list", "data": [endpoint_view(e) for e in page.items], "has_more": page.has_more}


@router.get("/webhooks/{endpoint_id}", summary="Retrieve a webhook endpoint")
async def get_endpoint(endpoint_id: str, ctx: Ctx, principal: CanManageWebhooks) -> dict[str, Any]:
    return endpoint_view(await ctx.webhooks.get_endpoint(principal, endpoint_id))


@router.patch("/webhooks/{endpoint_id}", summary="Change a webhook endpoint's name, URL, events or status")
async def update_endpoint(
    endpoint_id: str, request: Request, ctx: Ctx, principal: CanManageWebhooks
) -> dict[str, Any]:
    body = _object(await read_json(request), UPDATE_FIELDS)
    return endpoint_view(await ctx.webhooks.update_endpoint(principal, endpoint_id, body))


@router.delete("/webhooks/{endpoint_id}", summary="Delete (revoke) a webhook endpoint")
async def delete_endpoint(endpoint_id: str, ctx: Ctx, principal: CanManageWebhooks) -> dict[str, Any]:
    return endpoint_view(await ctx.webhooks.delete_endpoint(principal, endpoint_id))


@router.post("/webhooks/{endpoint_id}/rotate-secret", summary="Replace the signing secret")
async def rotate_secret(endpoint_id: str, ctx: Ctx, principal: CanManageWebhooks) -> dict[str, Any]:
    endpoint = await ctx.webhooks.rotate_secret(principal, endpoint_id)
    return endpoint_view(endpoint, reveal_secret=True)


@router.get("/webhooks/{endpoint_id}/deliveries", summary="The endpoint's deliveries, newest first")
async def list_deliveries(
    endpoint_id: str,
    ctx: Ctx,
    principal: CanManageWebhooks,
    cursor: str | None = None,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
) -> dict[str, Any]:
    page = await ctx.webhooks.list_deliveries(principal, endpoint_id, cursor=cursor, limit=limit)
    return {
        "object": "list",
        "data": [delivery_view(d) for d in page.items],
        "has_more": page.has_more,
        "next_cursor": page.next_cursor,
    }


@router.post("/webhooks/{endpoint_id}/test", status_code=202, summary="Send a signed test event now")
async def send_test(endpoint_id: str, ctx: Ctx, principal: CanManageWebhooks) -> JSONResponse:
    delivery = await ctx.webhooks.send_test(principal, endpoint_id)
    return JSONResponse(delivery_view(delivery), status_code=202)


@router.get("/webhook-events", summary="The account's webhook events, newest first")
async def list_events(
    ctx: Ctx,
    principal: CanManageWebhooks,
    cursor: str | None = None,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
) -> dict[str, Any]:
    page = await ctx.webhooks.list_events(principal, cursor=cursor, limit=limit)
    return {
        "object": "list",
        "data": [e.payload for e in page.items],
        "has_more": page.has_more,
        "next_cursor": page.next_cursor,
    }


def _object(body: Any, allowed: tuple[str, ...]) -> dict[str, Any]:
    if not isinstance(body, dict):
        raise invalid("body", "must be a JSON object", list(allowed))
    unknown = [FieldError(k[:100], "unknown field", list(allowed)) for k in body if k not in allowed]
    if unknown:
        raise ValidationFailed(f"{unknown[0].field}: unknown field", unknown)
    return body
