"""Helpers of the budget, admin and report tests: an operator's key, budgeted keys, ledger facts."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
from sqlalchemy import func, select

from imagine_gateway.store import ledger
from imagine_gateway.store.db import Database
from imagine_gateway.store.tables import accounts, tasks
from imagine_gateway.store.tables import ledger as ledger_table
from tests.conftest import Gateway, Key

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
    base_url: str, key: Key, n: int, body: dict[str, Any] = VIDEO
) -> list[httpx.Response]:
    """``n`` creates sent together."""
    async with httpx.AsyncClient(
        base_url=base_url, timeout=60, limits=httpx.Limits(max_connections=200)
    ) as client:
        return await asyncio.gather(
            *[client.post("/api/v1/generations", headers=key.headers, json=body) for _ in range(n)]
        )


async def _facts(url: str, account_id: str) -> dict[str, Any]:
    db = Database(url)
    try:
        async with db.read(snapshot=True) as conn:
            balance, reserved = (
                await conn.execute(
                    select(accounts.c.balance, accounts.c.reserved).where(accounts.c.id == account_id)
                )
            ).one()
            sums = await ledger.sums(conn, account_id)
            count = await conn.scalar(
                select(func.count()).select_from(tasks).where(tasks.c.account_id == account_id)
            )
            kinds = (
                await conn.execute(
                    select(ledger_table.c.kind, func.count())
                    .where(ledger_table.c.account_id == account_id)
                    .group_by(ledger_table.c.kind)
                )
            ).all()
    finally:
        await db.dispose()
    return {
        "balance": balance,
        "reserved": reserved,
        "ledger_sums": sums,
        "tasks": count,
        "kinds": dict(kinds),
    }


def ledger_facts(gateway: Gateway, account_id: str) -> dict[str, Any]:
    """Balance, reserved, the ledger's sums, the task count and the ledger rows per kind."""
    return asyncio.run(_facts(gateway.settings.resolved_database_url, account_id))


def key_view(gateway: Gateway, admin: Key, account_id: str, key_id: str) -> dict[str, Any]:
    listed = gateway.http.get(f"/api/v1/admin/accounts/{account_id}/keys", headers=admin.headers).json()
    return next(k for k in listed["data"] if k["id"] == key_id)
