"""Server-side operations the CLI runs directly against the database (no server needed)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

from imagine_gateway.core.clock import SystemClock
from imagine_gateway.core.records import Account, ApiKey
from imagine_gateway.services.principal import ALL_SCOPES
from imagine_gateway.settings import Settings
from imagine_gateway.store import accounts
from imagine_gateway.store.db import Database
from imagine_gateway.store.migrate import upgrade


@asynccontextmanager
async def _database(settings: Settings) -> AsyncIterator[Database]:
    """The schema brought up to date, and a database that is closed afterwards."""
    upgrade(settings.resolved_database_url)
    db = Database(settings.resolved_database_url)
    try:
        yield db
    finally:
        await db.dispose()


@dataclass(frozen=True)
class NewKey:
    account: Account
    key: ApiKey
    secret: str
    balance: int


async def create_key(
    settings: Settings,
    *,
    name: str,
    account_ref: str | None,
    credits: int,
    scopes: list[str] | None,
    expires_in_s: float | None,
    rate_limit: str | None,
) -> NewKey:
    """A new API key; creates its account unless one is named, and tops it up by ``credits``."""
    now = SystemClock().now_ms()
    async with _database(settings) as db, db.write() as conn:
        if account_ref:
            account = await accounts.find_account(conn, account_ref)
        else:
            account = await accounts.create_account(conn, name=name, now_ms=now)
        balance = account.balance
        if credits:
            balance = await accounts.topup(conn, account.id, credits, now_ms=now, note="imagine keys create")
        key, secret = await accounts.create_key(
            conn,
            account_id=account.id,
            name=name,
            scopes=scopes or list(ALL_SCOPES),
            now_ms=now,
            expires_at=now + int(expires_in_s * 1000) if expires_in_s else None,
            rate_limit=rate_limit,
        )
    return NewKey(account=account, key=key, secret=secret, balance=balance)


async def list_keys(settings: Settings, account_ref: str | None) -> list[ApiKey]:
    async with _database(settings) as db, db.read() as conn:
        account_id = (await accounts.find_account(conn, account_ref)).id if account_ref else None
        return await accounts.list_keys(conn, account_id)


async def revoke_key(settings: Settings, key_ref: str) -> ApiKey:
    async with _database(settings) as db, db.write() as conn:
        return await accounts.revoke_key(conn, key_ref, now_ms=SystemClock().now_ms())


async def topup(settings: Settings, account_ref: str, credits: int, note: str | None) -> Account:
    async with _database(settings) as db, db.write() as conn:
        account = await accounts.find_account(conn, account_ref)
        await accounts.topup(conn, account.id, credits, now_ms=SystemClock().now_ms(), note=note)
        return await accounts.get_account(conn, account.id)


async def show_account(settings: Settings, account_ref: str) -> Account:
    async with _database(settings) as db, db.read() as conn:
        return await accounts.find_account(conn, account_ref)


__all__ = ["NewKey", "create_key", "list_keys", "revoke_key", "show_account", "topup"]
