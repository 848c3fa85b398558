"""The operator's and the customer's changes to accounts and keys, each with its audit row.

Every change of a key or an account goes through one method here and, once committed, through
``AccountService.changed`` (where whatever remembers principals forgets them). The admin API, the
customer's own key routes and the ``imagine`` commands all call these methods; money (top-ups and
adjustments) is in ``services.admin_credits``.

    admin = AdminService(db=db, clock=clock, catalog=catalog, accounts=accounts)
    made = await admin.create_key(Actor.cli(), account_id, name="shop", limits=KeyLimits(daily=500))
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection

from imagine_gateway.catalog.loader import Catalog
from imagine_gateway.core.budgets import KeyLimits
from imagine_gateway.core.clock import Clock
from imagine_gateway.core.errors import ScopeDenied, invalid
from imagine_gateway.core.records import Account, ApiKey
from imagine_gateway.services.accounts import AccountService
from imagine_gateway.services.pagination import Page, page_of, read_cursor
from imagine_gateway.services.principal import ADMIN_SCOPE, ALL_SCOPES, KNOWN_SCOPES, Principal
from imagine_gateway.store import accounts as account_store
from imagine_gateway.store import audit
from imagine_gateway.store import keys as key_store
from imagine_gateway.store.db import Database

NAME_MAX = 200


@dataclass(frozen=True)
class Actor:
    """Who makes a change: an API key (an admin's, or a customer's on its own account) or the CLI."""

    id: str
    account_id: str | None = None
    scopes: frozenset[str] = frozenset(KNOWN_SCOPES)
    request_id: str | None = None

    @classmethod
    def cli(cls) -> Actor:
        return cls("cli")

    @classmethod
    def of(cls, principal: Principal, request_id: str | None = None) -> Actor:
        return cls(principal.api_key_id, principal.account_id, principal.scopes, request_id)

    @property
    def is_admin(self) -> bool:
        return ADMIN_SCOPE in self.scopes


@dataclass(frozen=True)
class MadeKey:
    """A key just made or rotated, with its secret (shown once)."""

    key: ApiKey
    secret: str


@dataclass(frozen=True)
class KeyChanges:
    """What a key update sets; ``None`` leaves a field as it is (``clear_models``: every model)."""

    name: str | None = None
    scopes: Sequence[str] | None = None
    limits: KeyLimits | None = None
    models: Sequence[str] | None = None
    clear_models: bool = False


class AdminService:
    """Accounts and keys as the operator (and a customer, for its own keys) changes them."""

    def __init__(self, *, db: Database, clock: Clock, catalog: Catalog, accounts: AccountService) -> None:
        self.db = db
        self.clock = clock
        self.catalog = catalog
        self.accounts = accounts

    # --- accounts ---------------------------------------------------------------------------

    async def create_account(self, actor: Actor, name: str) -> Account:
        """A new account with no credits and no keys."""
        name = _name(name)
        async with self.db.write() as conn:
            account = await account_store.create_account(conn, name=name, now_ms=self.clock.now_ms())
            await self._audit(
                conn, actor, "account.create", "account", account.id, account.id, {"name": name}
            )
        return account

    async def list_accounts(self, *, cursor: str | None, limit: int) -> Page[Account]:
        async with self.db.read() as conn:
            rows = await account_store.list_accounts(conn, before=read_cursor(cursor), limit=limit + 1)
        return page_of(rows, limit)

    async def get_account(self, account_id: str) -> Account:
        async with self.db.read() as conn:
            return await account_store.get_account(conn, account_id)

    async def set_disabled(self, actor: Actor, account_id: str, *, disabled: bool) -> Account:
        """Disable an account (its keys get ``account_disabled`` at once) or enable it again."""
        now = self.clock.now_ms()
        async with self.db.write() as conn:
            account = await account_store.set_disabled(
                conn, account_id, disabled_at=now if disabled else None
            )
            action = "account.disable" if disabled else "account.enable"
            await self._audit(conn, actor, action, "account", account_id, account_id, None)
        self._changed(account_id, None)
        return account

    # --- keys -------------------------------------------------------------------------------

    async def create_key(
        self,
        actor: Actor,
        account_id: str,
        *,
        name: str,
        scopes: Sequence[str] | None = None,
        limits: KeyLimits | None = None,
        models: Sequence[str] | None = None,
        expires_in_s: float | None = None,
        rate_limit: str | None = None,
    ) -> MadeKey:
        """A new key of ``account_id``. A customer's key makes keys of its own account only, with at
        most its own scopes (never ``admin``), and not while it has caps or an allowlist itself
        (it could otherwise make a key without them)."""
        name = _name(name)
        granted = self._scopes(actor, scopes)
        allowed = self._models(models)
        if not actor.is_admin and actor.id != "cli":
            await self._check_maker(actor)
        now = self.clock.now_ms()
        if expires_in_s is not None and not 0 < expires_in_s <= 10 * 365 * 86400:
            raise invalid("expires_in_s", "must be more than 0 and at most ten years of seconds")
        async with self.db.write() as conn:
            await account_store.get_account(conn, account_id)  # not_found for an unknown account
            key, secret = await account_store.create_key(
                conn,
                account_id=account_id,
                name=name,
                scopes=granted,
                now_ms=now,
                expires_at=now + int(expires_in_s * 1000) if expires_in_s else None,
                rate_limit=rate_limit,
                limits=limits,
                models=allowed,
            )
            details = {"name": name, "scopes": granted, "limits": key.limits.as_dict(), "models": allowed}
            await self._audit(conn, actor, "key.create", "key", key.id, account_id, details)
        return MadeKey(key, secret)

    async def list_keys(self, account_id: str) -> list[ApiKey]:
        """The account's keys, oldest first (``not_found`` for an unknown account)."""
        async with self.db.read() as conn:
            await account_store.get_account(conn, account_id)
            return await account_store.list_keys(conn, account_id)

    async def find_key(self, ref: str) -> ApiKey:
        """The one key whose id or visible prefix is ``ref`` (what an operator types)."""
        async with self.db.read() as conn:
            return await key_store.find_key(conn, ref)

    async def find_account(self, ref: str) -> Account:
        """The one account whose id or name is ``ref``."""
        async with self.db.read() as conn:
            return await account_store.find_account(conn, ref)

    async def get_key(self, key_id: str, *, account_id: str | None = None) -> ApiKey:
        async with self.db.read() as conn:
            return await key_store.get_key(conn, key_id, account_id=account_id)

    async def update_key(self, actor: Actor, key_id: str, changes: KeyChanges) -> ApiKey:
        """Change a key's name, scopes, caps or allowlist; effective on its next request."""
        values: dict[str, Any] = {}
        if changes.name is not None:
            values["name"] = _name(changes.name)
        if changes.scopes is not None:
            values["scopes"] = self._scopes(actor, changes.scopes)
        if changes.limits is not None:
            values |= {
                "limit_total": changes.limits.total,
                "limit_daily": changes.limits.daily,
                "limit_monthly": changes.limits.monthly,
            }
        if changes.clear_models:
            values["models"] = None
        elif changes.models is not None:
            values["models"] = self._models(changes.models)
        async with self.db.write() as conn:
            before = await key_store.get_key(conn, key_id, account_id=self._scope_of(actor))
            key = await key_store.update_key(conn, key_id, values)
            shown = {k: v for k, v in values.items()}
            await self._audit(conn, actor, "key.update", "key", key_id, before.account_id, shown)
        self._changed(key.account_id, key.id)
        return key

    async def revoke_key(self, actor: Actor, key_id: str) -> ApiKey:
        """The key stops working at once; revoking again keeps the first time."""
        async with self.db.write() as conn:
            key = await key_store.get_key(conn, key_id, account_id=self._scope_of(actor))
            key = await account_store.revoke_key(conn, key.id, now_ms=self.clock.now_ms())
            await self._audit(conn, actor, "key.revoke", "key", key.id, key.account_id, None)
        self._changed(key.account_id, key.id)
        return key

    async def rotate_key(self, actor: Actor, key_id: str) -> MadeKey:
        """A new secret for the key: the old one stops working at once; scopes, caps and spend stay."""
        async with self.db.write() as conn:
            key = await key_store.get_key(conn, key_id, account_id=self._scope_of(actor))
            if key.revoked_at is not None:
                raise invalid("key_id", "a revoked key cannot be rotated")
            key, secret = await key_store.rotate_key(conn, key.id)
            await self._audit(
                conn, actor, "key.rotate", "key", key.id, key.account_id, {"prefix": key.prefix}
            )
        self._changed(key.account_id, key.id)
        return MadeKey(key, secret)

    # --- the audit log ------------------------------------------------------------------------

    async def audit_log(
        self,
        *,
        cursor: str | None,
        limit: int,
        account_id: str | None = None,
        actor: str | None = None,
        action: str | None = None,
    ) -> tuple[list[audit.AuditEntry], int | None]:
        """Audit rows newest first and the position after the last one shown (None: no more)."""
        position = read_cursor(cursor)
        before = int(position[1]) if position and position[1].isdigit() else None
        if position and before is None:
            raise invalid("cursor", "not a cursor this API returned")
        async with self.db.read() as conn:
            rows = await audit.entries(
                conn, before_id=before, limit=limit + 1, account_id=account_id, actor=actor, action=action
            )
        more = len(rows) > limit
        return rows[:limit], (rows[limit - 1].id if more and limit else None)

    # --- helpers ----------------------------------------------------------------------------

    def _changed(self, account_id: str, key_id: str | None) -> None:
        self.accounts.changed(account_id, key_id)

    async def _audit(
        self,
        conn: AsyncConnection,
        actor: Actor,
        action: str,
        target_type: str,
        target_id: str,
        account_id: str | None,
        details: dict[str, Any] | None,
    ) -> None:
        await audit.record(
            conn,
            created_at=self.clock.now_ms(),
            actor=actor.id,
            actor_account_id=actor.account_id,
            action=action,
            target_type=target_type,
            target_id=target_id,
            account_id=account_id,
            details=details,
            request_id=actor.request_id,
        )

    @staticmethod
    def _scope_of(actor: Actor) -> str | None:
        """The account an actor may act on: any for an operator, its own for a customer's key."""
        return None if actor.is_admin or actor.id == "cli" else actor.account_id

    @staticmethod
    def _scopes(actor: Actor, scopes: Sequence[str] | None) -> list[str]:
        if scopes is None:
            return [s for s in ALL_SCOPES if s in actor.scopes or actor.is_admin or actor.id == "cli"]
        if not isinstance(scopes, list | tuple) or not all(isinstance(s, str) for s in scopes):
            raise invalid("scopes", "must be a list of scope names", list(KNOWN_SCOPES))
        for scope in scopes:
            if scope not in KNOWN_SCOPES:
                raise invalid("scopes", f"unknown scope '{scope[:60]}'", list(KNOWN_SCOPES))
        operator = actor.is_admin or actor.id == "cli"
        beyond = [s for s in scopes if s == ADMIN_SCOPE or s not in actor.scopes] if not operator else []
        if beyond:
            raise ScopeDenied(
                f"A key can only grant scopes it holds itself, never 'admin' (not: {beyond[0]})."
            )
        return list(dict.fromkeys(scopes))

    def _models(self, models: Sequence[str] | None) -> list[str] | None:
        if models is None:
            return None
        if not isinstance(models, list | tuple) or not all(isinstance(m, str) for m in models):
            raise invalid("models", "must be a list of model ids or null", self.catalog.ids)
        allowed: list[str] = []
        for model_id in models:
            model = self.catalog.get(model_id)
            if model is None:
                raise invalid("models", f"unknown model '{model_id[:100]}'", self.catalog.ids)
            allowed.append(model.id)
        return list(dict.fromkeys(allowed))

    async def _check_maker(self, actor: Actor) -> None:
        async with self.db.read() as conn:
            maker = await key_store.get_key(conn, actor.id)
        if maker.limits != KeyLimits() or maker.models is not None:
            raise ScopeDenied("A key with spend caps or a model allowlist cannot create keys.")


def _name(name: object) -> str:
    if not isinstance(name, str) or not name.strip() or len(name) > NAME_MAX:
        raise invalid("name", f"must be a non-empty string of at most {NAME_MAX} characters")
    return name.strip()


__all__ = ["Actor", "AdminService", "KeyChanges", "MadeKey"]
