"""The accounts service behind ``imagine keys`` / ``imagine credits`` and every request's key check."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Awaitable
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from typer.testing import CliRunner

from imagine_gateway.cli.main import app
from imagine_gateway.core.errors import (
    ApiKeyExpired,
    ApiKeyInvalid,
    ApiKeyRevoked,
    GatewayError,
    InsufficientCredits,
    NotFound,
    ScopeDenied,
)
from imagine_gateway.services.accounts import AccountService, Credits, open_accounts
from imagine_gateway.services.principal import ALL_SCOPES, Principal
from imagine_gateway.settings import load_settings
from tests.conftest import Gateway


@dataclass
class SetClock:
    """A clock the test moves by hand."""

    now: int = 1_800_000_000_000

    def now_ms(self) -> int:
        return self.now


async def refusal(call: Awaitable[object]) -> tuple[type[GatewayError], str]:
    """The error ``call`` raises, as (type, message)."""
    with pytest.raises(GatewayError) as caught:
        await call
    return type(caught.value), caught.value.message


@pytest.fixture
def clock() -> SetClock:
    return SetClock()


@pytest.fixture
async def accounts(tmp_path: Path, clock: SetClock) -> AsyncIterator[AccountService]:
    async with open_accounts(load_settings(home=tmp_path / "home"), clock=clock) as service:
        yield service


async def test_a_key_gets_its_scopes_expiry_and_rate_limit_on_a_named_account(
    accounts: AccountService, clock: SetClock
) -> None:
    first = await accounts.create_key(name="shop", credits=40)
    second = await accounts.create_key(
        name="reader",
        account_ref="shop",
        credits=2,
        scopes=["generations:read"],
        expires_in_s=60,
        rate_limit="5/minute",
    )

    assert (second.account.id, second.balance) == (first.account.id, 42)
    assert (second.key.name, second.key.scopes, second.key.expires_at, second.key.rate_limit) == (
        "reader",
        ["generations:read"],
        clock.now + 60_000,
        "5/minute",
    )
    assert first.key.scopes == list(ALL_SCOPES)
    assert second.secret.startswith(second.key.prefix) and second.secret != first.secret
    listed = await accounts.list_keys("shop")
    assert [k.id for k in listed] == [first.key.id, second.key.id]


async def test_authenticate_gives_the_principal_of_a_valid_key(accounts: AccountService) -> None:
    made = await accounts.create_key(name="a", scopes=["credits:read"], rate_limit="9/second")

    principal = await accounts.authenticate(made.secret, "credits:read")

    assert principal == Principal(
        account_id=made.account.id,
        api_key_id=made.key.id,
        scopes=frozenset({"credits:read"}),
        rate_limit="9/second",
    )


async def test_authenticate_refuses_unknown_revoked_expired_and_out_of_scope_keys(
    accounts: AccountService, clock: SetClock
) -> None:
    narrow = await accounts.create_key(name="narrow", scopes=["files:read"])
    brief = await accounts.create_key(name="brief", expires_in_s=1)
    gone = await accounts.create_key(name="gone")
    await accounts.revoke_key(gone.key.id)
    clock.now += 1000

    assert [
        await refusal(accounts.authenticate("igw_sk_not-a-key", None)),
        await refusal(accounts.authenticate(gone.secret, None)),
        await refusal(accounts.authenticate(brief.secret, None)),
        await refusal(accounts.authenticate(narrow.secret, "generations:create")),
    ] == [
        (ApiKeyInvalid, "The API key is not valid."),
        (ApiKeyRevoked, "This API key was revoked."),
        (ApiKeyExpired, "This API key has expired."),
        (ScopeDenied, "This API key lacks the scope 'generations:create'."),
    ]


async def test_revoking_twice_keeps_the_first_time(accounts: AccountService, clock: SetClock) -> None:
    made = await accounts.create_key(name="k")
    first = await accounts.revoke_key(made.key.prefix)
    clock.now += 5000

    again = await accounts.revoke_key(made.key.id)

    assert first.revoked_at == again.revoked_at == clock.now - 5000


async def test_a_top_up_below_zero_is_refused_and_changes_nothing(accounts: AccountService) -> None:
    made = await accounts.create_key(name="thrifty", credits=3)

    assert await refusal(accounts.topup("thrifty", -4)) == (
        InsufficientCredits,
        "This needs 4 credits; the account has 3 available.",
    )

    after = await accounts.topup("thrifty", -3, note="refund")
    assert (after.balance, after.reserved) == (0, 0)
    principal = await accounts.authenticate(made.secret, None)
    assert await accounts.credits(principal) == Credits(account_id=made.account.id, balance=0, reserved=0)


async def test_an_account_is_found_by_id_or_by_a_name_only_it_has(accounts: AccountService) -> None:
    one = await accounts.create_key(name="twin")
    await accounts.create_key(name="twin")

    assert await accounts.find_account(one.account.id) == one.account
    assert await refusal(accounts.find_account("twin")) == (NotFound, "No single account is called 'twin'.")


def test_a_key_made_by_the_cli_works_on_the_gateway_of_the_same_home(
    gateway: Gateway, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("IMAGINE_HOME", str(gateway.settings.home))
    runner = CliRunner()
    made = runner.invoke(app, ["keys", "create", "--name", "cli", "--credits", "7"])
    assert made.exit_code == 0, made.output
    secret = made.stdout.strip().splitlines()[-1]
    assert runner.invoke(app, ["credits", "topup", "cli", "3"]).exit_code == 0

    credits = httpx.get(f"{gateway.base_url}/api/v1/credits", headers={"Authorization": f"Bearer {secret}"})

    shown = json.loads(runner.invoke(app, ["credits", "show", "cli", "--json"]).stdout)
    assert (credits.status_code, credits.json()) == (
        200,
        {"object": "credits", "account_id": shown["id"], "balance": 10, "reserved": 0, "available": 10},
    )
