"""The JSON of accounts, keys, ledger rows, usage and money (shared by customer and admin routes)."""

from __future__ import annotations

from typing import Any

from fastapi import Request

from imagine_gateway.core.errors import FieldError, ValidationFailed, invalid
from imagine_gateway.core.money import Margin, usd_text
from imagine_gateway.core.records import Account, ApiKey, LedgerEntry
from imagine_gateway.core.timefmt import iso_ms
from imagine_gateway.services.admin import Actor
from imagine_gateway.services.principal import Principal


def account_view(account: Account) -> dict[str, Any]:
    return {
        "id": account.id,
        "object": "account",
        "name": account.name,
        "status": "disabled" if account.disabled_at is not None else "active",
        "balance": account.balance,
        "reserved": account.reserved,
        "created_at": iso_ms(account.created_at),
        "disabled_at": iso_ms(account.disabled_at),
    }


def key_view(key: ApiKey, *, now_ms: int, secret: str | None = None) -> dict[str, Any]:
    """A key; ``secret`` only in the answer that made (or rotated) it."""
    view: dict[str, Any] = {
        "id": key.id,
        "object": "api_key",
        "account_id": key.account_id,
        "name": key.name,
        "prefix": key.prefix,
        "scopes": list(key.scopes),
        "limits": key.limits.as_dict(),
        "models": list(key.models) if key.models is not None else None,
        "spent": key.spend.current(now_ms),
        "created_at": iso_ms(key.created_at),
        "expires_at": iso_ms(key.expires_at),
        "revoked_at": iso_ms(key.revoked_at),
        "last_used_at": iso_ms(key.last_used_at),
    }
    if secret is not None:
        view["secret"] = secret
    return view


def ledger_view(entry: LedgerEntry) -> dict[str, Any]:
    return {
        "id": entry.id,
        "object": "ledger_entry",
        "kind": entry.kind,
        "amount": entry.amount,
        "reserved_delta": entry.reserved_delta,
        "balance_after": entry.balance_after,
        "task_id": entry.task_id,
        "model": entry.model,
        "api_key_id": entry.api_key_id,
        "note": entry.note,
        "reference": entry.reference,
        "created_at": iso_ms(entry.created_at),
    }


def margin_view(margin: Margin, *, cost_known: bool = True) -> dict[str, Any]:
    """Money as exact decimal strings (six places); an unknown upstream cost is null."""
    return {
        "revenue_credits": margin.revenue_credits,
        "revenue_usd": usd_text(margin.revenue_usd),
        "upstream_cost_usd": usd_text(margin.upstream_cost_usd) if cost_known else None,
        "margin_usd": usd_text(margin.margin_usd) if cost_known else None,
    }


def listing(data: list[Any], *, next_cursor: str | None) -> dict[str, Any]:
    return {"object": "list", "data": data, "has_more": next_cursor is not None, "next_cursor": next_cursor}


def fields_of(body: Any, allowed: tuple[str, ...]) -> dict[str, Any]:
    """The body as an object of known fields only (``validation_failed`` naming each other one)."""
    if not isinstance(body, dict):
        raise invalid("body", "must be a JSON object", list(allowed))
    unknown = [FieldError(str(k)[:100], "unknown field", list(allowed)) for k in body if k not in allowed]
    if unknown:
        raise ValidationFailed(f"{unknown[0].field}: unknown field", unknown)
    return body


def actor(request: Request, principal: Principal) -> Actor:
    """The acting key of a request, with the request id its audit row names."""
    return Actor.of(principal, getattr(request.state, "request_id", None))
