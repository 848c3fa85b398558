"""API keys beyond their creation: the credential check, changes of limits and scopes, rotation."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from imagine_gateway.core.errors import NotFound
from imagine_gateway.core.ids import hash_api_key, new_api_key, visible_prefix
from imagine_gateway.core.records import ApiKey
from imagine_gateway.store.db import Database
from imagine_gateway.store.point_reads import ACCOUNT_BY_ID, KEY_BY_HASH, MISS
from imagine_gateway.store.tables import accounts, api_keys

_CREDENTIAL = select(api_keys, accounts.c.disabled_at.label("account_disabled_at")).join(
    accounts, accounts.c.id == api_keys.c.account_id
)
# What an operator or a key's owner may change on a key.
EDITABLE = frozenset(
    {"name", "scopes", "limit_total", "limit_daily", "limit_monthly", "models", "rate_limit"}
)


async def credential(conn: AsyncConnection, secret: str) -> tuple[ApiKey, int | None] | None:
    """The key of ``secret`` and when its account was disabled (None: enabled); None: no such key."""
    row = (
        (await conn.execute(_CREDENTIAL.where(api_keys.c.secret_hash == hash_api_key(secret))))
        .mappings()
        .first()
    )
    if row is None:
        return None
    return ApiKey.from_row(row), row["account_disabled_at"]


async def credential_by_hash(db: Database, secret_hash: str) -> tuple[ApiKey, int | None] | None:
    """``credential`` by the secret's hash, on the point-read path (two single-row reads)."""
    key_row = await db.points.fetch(KEY_BY_HASH, secret_hash)
    account_row = MISS
    if key_row is not None and key_row is not MISS:
        account_row = await db.points.fetch(ACCOUNT_BY_ID, key_row["account_id"])  # type: ignore[index]
    if key_row is None:
        return None
    if key_row is MISS or account_row is MISS or account_row is None:
        async with db.read() as conn:
            row = (
                (await conn.execute(_CREDENTIAL.where(api_keys.c.secret_hash == secret_hash)))
                .mappings()
                .first()
            )
        return None if row is None else (ApiKey.from_row(row), row["account_disabled_at"])
    return ApiKey.from_row(key_row), account_row["disabled_at"]  # type: ignore[arg-type, index]


async def get_key(conn: AsyncConnection, key_id: str, *, account_id: str | None = None) -> ApiKey:
    """One key (of ``account_id`` when given: another account's key is ``not_found``)."""
    query = select(api_keys).where(api_keys.c.id == key_id)
    if account_id is not None:
        query = query.where(api_keys.c.account_id == account_id)
    row = (await conn.execute(query)).mappings().first()
    if row is None:
        raise NotFound(f"API key {key_id} does not exist.")
    return ApiKey.from_row(row)


async def update_key(conn: AsyncConnection, key_id: str, values: dict[str, Any]) -> ApiKey:
    """Change ``values`` (columns of ``EDITABLE``) of the key; the key as it is afterwards."""
    unknown = set(values) - EDITABLE
    if unknown:
        raise ValueError(f"not editable key columns: {sorted(unknown)}")
    if values:
        await conn.execute(update(api_keys).where(api_keys.c.id == key_id).values(**values))
    return await get_key(conn, key_id)


async def rotate_key(conn: AsyncConnection, key_id: str) -> tuple[ApiKey, str]:
    """A new secret for the key (the old one stops working at once); limits and spend stay."""
    secret = new_api_key()
    await conn.execute(
        update(api_keys)
        .where(api_keys.c.id == key_id)
        .values(secret_hash=hash_api_key(secret), prefix=visible_prefix(secret))
    )
    return await get_key(conn, key_id), secret


async def find_key(conn: AsyncConnection, ref: str) -> ApiKey:
    """The one key whose id or visible prefix is ``ref``."""
    rows = (
        (
            await conn.execute(
                select(api_keys).where((api_keys.c.id == ref) | (api_keys.c.prefix == ref)).limit(2)
            )
        )
        .mappings()
        .all()
    )
    if len(rows) != 1:
        raise NotFound(f"No single API key matches {ref!r}.")
    return ApiKey.from_row(rows[0])
