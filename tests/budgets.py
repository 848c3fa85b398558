"""Helpers of the budget, admin and report tests: an operator's key, budgeted keys, ledger facts."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx

from tests.conftest import Gateway, Key
from tests.reliability.facts import account_facts

VIDEO = {"model": "grok-imagine-video", "prompt": "a paper boat"}  # 10 credits


def admin_key(gateway: Gateway) -> Key:
    """The operator's key, made as `imagine keys create --scope admin` makes it."""
    return gateway.key(credits=0, scopes=["admin"], name="operator")


def budgeted_key(gateway: Gateway, admin: Key, account_id: str, **body: Any) -> tuple[Key, dict[str, Any]]:
    """A key of ``account_id`` made through the admin API with ``body`` (limits, models, scopes)."""
    made = gateway.http.post(
        f"/api/v1/admin/accounts/{account_id}/keys", headers=admin.headers, json={"name": "budget", **body}
    )
    assert made.status_code == 201, made.text
    view = made.json()
    return Key(view.pop("secret"), account_id, view["id"]), view


async def create_at_once(
    base_url: str, key: Key, n: int, body: dict[str, Any] = VIDEO, *, headers: dict[str, str] | None = None
) -> list[httpx.Response]:
    """``n`` creates of ``body`` sent together, each with ``headers`` beside the key's."""
    async with httpx.AsyncClient(
        base_url=base_url, timeout=60, limits=httpx.Limits(max_connections=200)
    ) as client:
        sent = {**key.headers, **(headers or {})}
        return await asyncio.gather(
            *[client.post("/api/v1/generations", headers=sent, json=body) for _ in range(n)]
        )


def ledger_facts(gateway: Gateway, account_id: str) -> dict[str, Any]:
    """Balance, reserved, the ledger's sums, the task count and the ledger rows per kind."""
    facts = account_facts(gateway.settings.resolved_database_url, account_id)
    return {
        "balance": facts.balance,
        "reserved": facts.reserved,
        "ledger_sums": facts.ledger_sums,
        "tasks": facts.tasks,
        "kinds": dict(facts.kinds),
    }


def key_view(gateway: Gateway, admin: Key, account_id: str, key_id: str) -> dict[str, Any]:
    listed = gateway.http.get(f"/api/v1/admin/accounts/{account_id}/keys", headers=admin.headers).json()
    return next(k for k in listed["data"] if k["id"] == key_id)
