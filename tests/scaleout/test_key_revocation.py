"""A key revoked anywhere is refused by every API process at once when they share Redis."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

from imagine_gateway.services.accounts import open_accounts
from tests.conftest import Gateway, make_settings

TRUST_S = 30  # far longer than the test: only the notice through Redis can explain a refusal


def test_imagine_keys_revoke_reaches_every_api_process_through_redis(
    pg_url: str, redis_url: str, gateway_factory: Callable[..., Gateway]
) -> None:
    options = {"database_url": pg_url, "redis_url": redis_url, "key_cache_s": TRUST_S}
    first = gateway_factory(**options)
    second = gateway_factory(**options)
    key = first.key(credits=5)
    other = first.key(credits=5)
    warm = [
        gw.http.get("/api/v1/credits", headers=k.headers).status_code
        for gw in (first, second)
        for k in (key, other)
    ]

    async def revoke() -> None:  # as `imagine keys revoke` does, in a process of its own
        settings = make_settings(first.settings.home, database_url=pg_url, redis_url=redis_url)
        async with open_accounts(settings) as accounts:
            await accounts.revoke_key(key.key_id)

    asyncio.run(revoke())
    deadline = time.monotonic() + 10
    while True:
        answers = [gw.http.get("/api/v1/credits", headers=key.headers) for gw in (first, second)]
        if all(a.status_code == 401 for a in answers) or time.monotonic() > deadline:
            break
        time.sleep(0.05)

    assert warm == [200, 200, 200, 200]
    assert [(a.status_code, a.json()["error"]["code"]) for a in answers] == [(401, "api_key_revoked")] * 2
    assert [gw.http.get("/api/v1/credits", headers=other.headers).status_code for gw in (first, second)] == [
        200,
        200,
    ]
