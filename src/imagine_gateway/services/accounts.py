"""Accounts, API keys and credits: what the CLI administers and what every request authenticates by.

A revoked key is refused at once by the process that revoked it and, through Redis, by every
other; a process no notice reaches refuses it within ``IMAGINE_KEY_CACHE_S`` (1 s by default).

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
from imagine_gateway.core.ids import hash_api_key
from imagine_gateway.core.records import Account, ApiKey
from imagine_gateway.delivery.events import AccessChanged, EventBus, MemoryEventBus
from imagine_gateway.delivery.redis_events import RedisEventBus
from imagine_gateway.services.key_cache import KeyCache
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
    """Accounts, their keys and their balances.

    ``authenticate`` keeps the keys it checked in a ``KeyCache`` (``key_cache_s``). Every change of
    a key or an account passes through ``changed`` once committed: this process forgets what it
    kept of them at once, and the event bus (Redis in scale-out) tells the other processes.
    """

    def __init__(
        self, *, db: Database, clock: Clock, events: EventBus | None = None, key_cache_s: float = 0.0
    ) -> None:
        self.db = db
        self.clock = clock
        self._listeners: list[Callable[[str, str | None], None]] = []
        self.events: EventBus = events or MemoryEventBus()
        self.keys = KeyCache(max_age_s=key_cache_s)
        self._announcing: set[asyncio.Task[None]] = set()
        self.events.on_access_change(lambda change: self.keys.forget(change))
        self.on_change(self._forget_and_announce)

    def on_change(self, listener: Callable[[str, str | None], None]) -> None:
        """Call ``listener(account_id, key_id)`` after every committed change of a key or an
        account (``key_id`` None: the whole account), e.g. to drop what a cache holds of them."""
        self._listeners.append(listener)

    def changed(self, account_id: str, key_id: str | None = None) -> None:
        """The one place every change of a key or an account (revoke, rotate, limits, scopes,
        disable, enable) passes through once committed, whichever service made it."""
        for listener in self._listeners:
            listener(account_id, key_id)

    def _forget_and_announce(self, account_id: str, key_id: str | None) -> None:
        # The key alone when one is named, else every key of the account.
        change = AccessChanged(key_id=key_id, account_id=None if key_id else account_id)
        self.keys.forget(change)  # here, at once
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:  # no loop: nobody in this process serves requests
            return
        task = loop.create_task(self.events.announce(change))  # the other processes
        self._announcing.add(task)
        task.add_done_callback(self._announcing.discard)

    async def announced(self) -> None:
        """Wait until every change made here was handed to the event bus (before closing it)."""
        if self._announcing:
            await asyncio.gather(*self._announcing, return_exceptions=True)

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
        await self.announced()  # on the bus before the caller hears it is done
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
        """The principal behind an API key secret, after validity, expiry, revocation and scope checks.

        The key's row comes from the cache when this process read it less than ``key_cache_s`` ago
        and nothing changed it since; the checks run on every request either way.
        """
        found = await self._credential(hash_api_key(secret))
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

    async def _credential(self, secret_hash: str) -> tuple[ApiKey, int | None] | None:
        """The key and its account's ``disabled_at``, from the cache or (then kept) the database."""
        cached = self.keys.get(secret_hash)
        if cached is not None:
            return cached
        generation, read_at = self.keys.generation, self.keys.clock()
        found = await key_store.credential_by_hash(self.db, secret_hash)
        if found is not None:  # unknown secrets are not kept: they would only fill the cache
            self.keys.put(secret_hash, found, generation=generation, read_at=read_at)
        return found


@asynccontextmanager
async def open_accounts(settings: Settings, *, clock: Clock | None = None) -> AsyncIterator[AccountService]:
    """The service on the configured database, its schema brought up to date first; closed afterwards."""
    url = settings.resolved_database_url
    await asyncio.to_thread(upgrade, url)
    db = Database(url)
    # With Redis, a change made here (a key revoked) reaches every running gateway process at once.
    events: EventBus = RedisEventBus(settings.redis_url) if settings.redis_url else MemoryEventBus()
    service = AccountService(db=db, clock=clock or SystemClock(), events=events)
    try:
        yield service
    finally:
        await service.announced()
        await events.aclose()
        await db.dispose()


__all__ = ["AccountService", "Credits", "NewKey", "open_accounts"]
