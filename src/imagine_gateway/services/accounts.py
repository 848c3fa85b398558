"""Accounts, API keys and credits: what the CLI administers and what every request authenticates by.

The gateway's API uses the service from its context; the ``imagine keys`` and ``imagine credits``
commands open one on the configured database with no server running:

    async with open_accounts(settings) as accounts:
        made = await accounts.create_key(name="demo", credits=100)
        print(made.secret)
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass

from imagine_gateway.core.budgets import KeyLimits
from imagine_gateway.core.clock import Clock, SystemClock
from imagine_gateway.core.errors import (
    AccountDisabled,
    ApiKeyExpired,
    ApiKeyInvalid,
    ApiKeyRevoked,
    ScopeDenied,
    invalid,
)
from imagine_gateway.core.records import Account, ApiKey
from imagine_gateway.services.principal import ALL_SCOPES, KNOWN_SCOPES, Principal
from imagine_gateway.settings import Settings
from imagine_gateway.store import accounts as account_store
from imagine_gateway.store import audit
from imagine_gateway.store import keys as key_store
from imagine_gateway.store.db import Database
from imagine_gateway.store.migrate import upgrade


@dataclass(frozen=True)
class NewKey:
    """A key just made: its account, the account's balance after any top-up, and the secret."""

    account: Account
    key: ApiKey
    secret: str
    balance: int


@dataclass(frozen=True)
class Credits:
    """An account's credits: ``balance`` is what it may spend; ``reserved`` is held by running tasks."""

    account_id: str
    balance: int
    reserved: int


class AccountService:
    """Accounts, their keys and their balances."""

    def __init__(self, *, db: Database, clock: Clock) -> None:
        self.db = db
        self.clock = clock
        self._listeners: list[Callable[[str, str | None], None]] = []

    def on_change(self, listener: Callable[[str, str | None], None]) -> None:
        """Call ``listener(account_id, key_id)`` after every committed change of a key or an
        account (``key_id`` None: the whole account), e.g. to drop what a cache holds of them."""
        self._listeners.append(listener)

    def changed(self, account_id: str, key_id: str | None = None) -> None:
        """The one place every change of a key or an account (revoke, rotate, limits, scopes,
        disable, enable) passes through once committed, whichever service made it."""
        for listener in self._listeners:
            listener(account_id, key_id)

    async def create_account(self, name: str) -> Account:
        async with self.db.write() as conn:
            return await account_store.create_account(conn, name=name, now_ms=self.clock.now_ms())

    async def find_account(self, ref: str) -> Account:
        """The one account whose id or name is ``ref``; ``not_found`` otherwise."""
        async with self.db.read() as conn:
            return await account_store.find_account(conn, ref)

    async def get_account(self, account_id: str) -> Account:
        async with self.db.read() as conn:
            return await account_store.get_account(conn, account_id)

    async def create_key(
        self,
        *,
        name: str,
        account_ref: str | None = None,
        credits: int = 0,
        scopes: Sequence[str] | None = None,
        expires_in_s: float | None = None,
        rate_limit: str | None = None,
        limits: KeyLimits | None = None,
        models: Sequence[str] | None = None,
    ) -> NewKey:
        """A new API key (all scopes but ``admin`` unless given); makes its account unless one is
        named, and tops the account up by ``credits``, all in one transaction (and its audit row:
        the operator made it on the command line)."""
        unknown = [s for s in scopes or () if s not in KNOWN_SCOPES]
        if unknown:
            raise invalid("scopes", f"unknown scope '{unknown[0]}'", list(KNOWN_SCOPES))
        now = self.clock.now_ms()
        async with self.db.write() as conn:
            if account_ref:
                account = await account_store.find_account(conn, account_ref)
            else:
                account = await account_store.create_account(conn, name=name, now_ms=now)
            balance = account.balance
            if credits:
                balance = await account_store.topup(
                    conn, account.id, credits, now_ms=now, note="imagine keys create"
                )
            key, secret = await account_store.create_key(
                conn,
                account_id=account.id,
                name=name,
                scopes=list(scopes) if scopes else list(ALL_SCOPES),
                now_ms=now,
                expires_at=now + int(expires_in_s * 1000) if expires_in_s else None,
                rate_limit=rate_limit,
                limits=limits,
                models=list(models) if models is not None else None,
            )
            await audit.record(
                conn,
                created_at=now,
                actor="cli",
                action="key.create",
                target_type="key",
                target_id=key.id,
                account_id=account.id,
                details={"scopes": key.scopes, "credits": credits, "name": name},
            )
        return NewKey(account=account, key=key, secret=secret, balance=balance)

    async def list_keys(self, account_ref: str | None = None) -> list[ApiKey]:
        """Every key (of one account when named), oldest first; secrets are never stored."""
        async with self.db.read() as conn:
            account_id = (await account_store.find_account(conn, account_ref)).id if account_ref else None
            return await account_store.list_keys(conn, account_id)

    async def revoke_key(self, key_ref: str) -> ApiKey:
        """Revoke by id or visible prefix: the key stops working at once; a second revoke is a no-op."""
        async with self.db.write() as conn:
            key = await account_store.revoke_key(conn, key_ref, now_ms=self.clock.now_ms())
        self.changed(key.account_id, key.id)
        return key

    async def topup(self, account_ref: str, credits: int, note: str | None = None) -> Account:
        """Add (or, negative, take away) credits: one ledger row; the account as it is afterwards."""
        async with self.db.write() as conn:
            account = await account_store.find_account(conn, account_ref)
            await account_store.topup(conn, account.id, credits, now_ms=self.clock.now_ms(), note=note)
            return await account_store.get_account(conn, account.id)

    async def credits(self, principal: Principal) -> Credits:
        """The caller's own balance."""
        account = await self.get_account(principal.account_id)
        return Credits(account_id=account.id, balance=account.balance, reserved=account.reserved)

    async def authenticate(self, secret: str, scope: str | None) -> Principal:
        """The principal behind an API key secret, after validity, expiry, revocation and scope checks."""
        async with self.db.read() as conn:
            found = await key_store.credential(conn, secret)
        if found is None:
            raise ApiKeyInvalid("The API key is not valid.")
        key, account_disabled_at = found
        if key.revoked_at is not None:
            raise ApiKeyRevoked("This API key was revoked.")
        if key.expires_at is not None and key.expires_at <= self.clock.now_ms():
            raise ApiKeyExpired("This API key has expired.")
        if account_disabled_at is not None:
            raise AccountDisabled("The account of this API key is disabled; contact the operator.")
        if scope is not None and scope not in key.scopes:
            raise ScopeDenied(f"This API key lacks the scope '{scope}'.")
        return Principal(
            account_id=key.account_id,
            api_key_id=key.id,
            scopes=frozenset(key.scopes),
            rate_limit=key.rate_limit,
            models=frozenset(key.models) if key.models is not None else None,
        )


@asynccontextmanager
async def open_accounts(settings: Settings, *, clock: Clock | None = None) -> AsyncIterator[AccountService]:
    """The service on the configured database, its schema brought up to date first; closed afterwards."""
    url = settings.resolved_database_url
    await asyncio.to_thread(upgrade, url)
    db = Database(url)
    try:
        yield AccountService(db=db, clock=clock or SystemClock())
    finally:
        await db.dispose()


__all__ = ["AccountService", "Credits", "NewKey", "open_accounts"]
