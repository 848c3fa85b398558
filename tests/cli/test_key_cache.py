"""API keys checked once and remembered for a bound: what a change must make every process forget."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from imagine_gateway.core.errors import ApiKeyExpired, ApiKeyRevoked
from imagine_gateway.core.records import ApiKey
from imagine_gateway.delivery.events import AccessChanged, MemoryEventBus
from imagine_gateway.services.accounts import AccountService
from imagine_gateway.services.key_cache import KeyCache
from imagine_gateway.settings import load_settings
from imagine_gateway.store.db import Database
from imagine_gateway.store.migrate import upgrade
from tests.cli.test_accounts_service import SetClock, refusal


@pytest.fixture
async def db(tmp_path: Path) -> AsyncIterator[Database]:
    url = load_settings(home=tmp_path / "home").resolved_database_url
    await asyncio.to_thread(upgrade, url)
    database = Database(url)
    yield database
    await database.dispose()


def cached(db: Database, clock: SetClock, bus: MemoryEventBus | None = None) -> AccountService:
    """A service that trusts a key it checked for a minute unless told otherwise."""
    return AccountService(db=db, clock=clock, events=bus or MemoryEventBus(), key_cache_s=60)


async def test_a_key_revoked_through_the_service_is_refused_by_it_at_once(db: Database) -> None:
    accounts = cached(db, SetClock())
    made = await accounts.create_key(name="k")
    assert (await accounts.authenticate(made.secret, None)).api_key_id == made.key.id
    assert len(accounts.keys) == 1  # remembered

    await accounts.revoke_key(made.key.prefix)

    assert await refusal(accounts.authenticate(made.secret, None)) == (
        ApiKeyRevoked,
        "This API key was revoked.",
    )


async def test_a_change_announced_on_the_bus_reaches_every_service_listening_to_it(db: Database) -> None:
    bus = MemoryEventBus()
    admin, serving = cached(db, SetClock(), bus), cached(db, SetClock(), bus)
    made = await admin.create_key(name="k")
    other = await admin.create_key(name="other", account_ref=made.account.id)
    await serving.authenticate(made.secret, None)
    await serving.authenticate(other.secret, None)

    await admin.revoke_key(made.key.id)

    assert await refusal(serving.authenticate(made.secret, None)) == (
        ApiKeyRevoked,
        "This API key was revoked.",
    )
    assert (await serving.authenticate(other.secret, None)).api_key_id == other.key.id


async def test_a_change_of_an_account_makes_every_key_of_it_checked_afresh(db: Database) -> None:
    accounts, unconnected = cached(db, SetClock()), cached(db, SetClock())
    first = await accounts.create_key(name="a")
    second = await accounts.create_key(name="b", account_ref=first.account.id)
    elsewhere = await accounts.create_key(name="c")
    for made in (first, second, elsewhere):
        await accounts.authenticate(made.secret, None)
    # Revoked where no notice reaches ``accounts``: it goes on trusting what it checked (the bound).
    await unconnected.revoke_key(second.key.id)
    await unconnected.revoke_key(elsewhere.key.id)

    accounts.changed(first.account.id)  # the hook every change of an account goes through

    assert [
        (await accounts.authenticate(first.secret, None)).api_key_id,
        await refusal(accounts.authenticate(second.secret, None)),
        (await accounts.authenticate(elsewhere.secret, None)).api_key_id,
    ] == [first.key.id, (ApiKeyRevoked, "This API key was revoked."), elsewhere.key.id]


async def test_a_remembered_key_still_expires_on_time(db: Database) -> None:
    clock = SetClock()
    accounts = cached(db, clock)
    made = await accounts.create_key(name="brief", expires_in_s=1)
    await accounts.authenticate(made.secret, None)

    clock.now += 1000

    assert await refusal(accounts.authenticate(made.secret, None)) == (
        ApiKeyExpired,
        "This API key has expired.",
    )


def key(key_id: str = "key_1", account_id: str = "acct_1") -> ApiKey:
    return ApiKey(id=key_id, account_id=account_id, name="k", prefix="igw_sk_x", scopes=[], created_at=0)


def test_an_entry_is_trusted_for_less_than_the_bound_and_then_read_again() -> None:
    now = [100.0]
    cache = KeyCache(max_age_s=1.0, now=lambda: now[0])
    cache.put("h", (key(), None), generation=cache.generation, read_at=cache.clock())

    now[0] = 100.99
    trusted = cache.get("h")
    now[0] = 101.0

    assert (trusted, cache.get("h"), len(cache)) == ((key(), None), None, 0)


def test_a_read_that_began_before_a_change_is_not_kept() -> None:
    cache = KeyCache(max_age_s=60)
    generation, read_at = cache.generation, cache.clock()  # the read starts...
    cache.forget(AccessChanged(key_id="key_1"))  # ...the key is revoked meanwhile...

    cache.put("h", (key(), None), generation=generation, read_at=read_at)  # ...the stale row arrives

    assert cache.get("h") is None


def test_with_a_bound_of_zero_nothing_is_kept() -> None:
    cache = KeyCache(max_age_s=0)
    cache.put("h", (key(), None), generation=cache.generation, read_at=cache.clock())
    assert (cache.get("h"), len(cache)) == (None, 0)
