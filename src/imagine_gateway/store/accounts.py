"""Accounts and API keys."""

from __future__ import annotations

from sqlalchemy import insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from imagine_gateway.core.budgets import KeyLimits
from imagine_gateway.core.errors import NotFound
from imagine_gateway.core.ids import hash_api_key, new_api_key, new_id, visible_prefix
from imagine_gateway.core.records import Account, ApiKey
from imagine_gateway.store import ledger
from imagine_gateway.store.ledger import LedgerKind
from imagine_gateway.store.pagination import keyset_page
from imagine_gateway.store.tables import accounts, api_keys


async def create_account(
    conn: AsyncConnection, *, name: str, now_ms: int, account_id: str | None = None
) -> Account:
    account_id = account_id or new_id("acct")
    await conn.execute(
        insert(accounts).values(id=account_id, name=name, balance=0, reserved=0, created_at=now_ms)
    )
    return Account(id=account_id, name=name, balance=0, reserved=0, created_at=now_ms)


async def get_account(conn: AsyncConnection, account_id: str) -> Account:
    row = (await conn.execute(select(accounts).where(accounts.c.id == account_id))).mappings().first()
    if row is None:
        raise NotFound(f"Account {account_id} does not exist.")
    return Account.from_row(row)


async def find_account(conn: AsyncConnection, ref: str) -> Account:
    """An account by id or by name."""
    row = (
        (
            await conn.execute(
                select(accounts).where((accounts.c.id == ref) | (accounts.c.name == ref)).limit(2)
            )
        )
        .mappings()
        .all()
    )
    if len(row) != 1:
        raise NotFound(f"No single account is called {ref!r}.")
    return Account.from_row(row[0])


async def topup(
    conn: AsyncConnection, account_id: str, credits: int, *, now_ms: int, note: str | None = None
) -> int:
    kind: LedgerKind = "topup" if credits >= 0 else "adjust"
    return await ledger.post(conn, account_id=account_id, kind=kind, amount=credits, note=note, now_ms=now_ms)


async def create_key(
    conn: AsyncConnection,
    *,
    account_id: str,
    name: str,
    scopes: list[str],
    now_ms: int,
    expires_at: int | None = None,
    rate_limit: str | None = None,
    limits: KeyLimits | None = None,
    models: list[str] | None = None,
) -> tuple[ApiKey, str]:
    """A new key and its secret (the only time the secret exists outside the caller's hands)."""
    limits = limits or KeyLimits()
    secret = new_api_key()
    key = ApiKey(
        id=new_id("key"),
        account_id=account_id,
        name=name,
        prefix=visible_prefix(secret),
        scopes=list(scopes),
        created_at=now_ms,
        expires_at=expires_at,
        rate_limit=rate_limit,
        limit_total=limits.total,
        limit_daily=limits.daily,
        limit_monthly=limits.monthly,
        models=models,
    )
    await conn.execute(
        insert(api_keys).values(
            id=key.id,
            account_id=account_id,
            name=name,
            prefix=key.prefix,
            secret_hash=hash_api_key(secret),
            scopes=key.scopes,
            rate_limit=rate_limit,
            created_at=now_ms,
            expires_at=expires_at,
            limit_total=limits.total,
            limit_daily=limits.daily,
            limit_monthly=limits.monthly,
            models=models,
        )
    )
    return key, secret


async def list_keys(conn: AsyncConnection, account_id: str | None = None) -> list[ApiKey]:
    query = select(api_keys).order_by(api_keys.c.created_at)
    if account_id:
        query = query.where(api_keys.c.account_id == account_id)
    return [ApiKey.from_row(r) for r in (await conn.execute(query)).mappings()]


async def revoke_key(conn: AsyncConnection, key_ref: str, *, now_ms: int) -> ApiKey:
    """Revoke by id or visible prefix; revoking twice keeps the first time."""
    row = (
        (
            await conn.execute(
                select(api_keys).where((api_keys.c.id == key_ref) | (api_keys.c.prefix == key_ref)).limit(2)
            )
        )
        .mappings()
        .all()
    )
    if len(row) != 1:
        raise NotFound(f"No single API key matches {key_ref!r}.")
    key = ApiKey.from_row(row[0])
    if key.revoked_at is None:
        await conn.execute(update(api_keys).where(api_keys.c.id == key.id).values(revoked_at=now_ms))
        key = ApiKey(**{**key.__dict__, "revoked_at": now_ms})
    return key


async def list_accounts(
    conn: AsyncConnection, *, before: tuple[int, str] | None, limit: int
) -> list[Account]:
    """Accounts newest first, keyset-paginated on (created_at, id)."""
    query = keyset_page(select(accounts), accounts, before=before, limit=limit)
    return [Account.from_row(r) for r in (await conn.execute(query)).mappings()]


async def set_disabled(conn: AsyncConnection, account_id: str, *, disabled_at: int | None) -> Account:
    """Disable (a time) or enable (None) an account; disabling twice keeps the first time."""
    account = await get_account(conn, account_id)
    if (account.disabled_at is None) != (disabled_at is None):
        await conn.execute(
            update(accounts).where(accounts.c.id == account_id).values(disabled_at=disabled_at)
        )
    return await get_account(conn, account_id)
