"""The `imagine` command: thin: parse, load settings, call library functions."""

from __future__ import annotations

import asyncio
import json
import sys
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from imagine_gateway import __version__, eventloop
from imagine_gateway.cli import admin_commands, client_commands
from imagine_gateway.cli.server_guard import ServerCommandsGroup
from imagine_gateway.cli.state import reports_database
from imagine_gateway.core.errors import GatewayError
from imagine_gateway.core.timefmt import iso_ms

if TYPE_CHECKING:  # the settings need the server extra; the client commands run without it
    from imagine_gateway.settings import Settings

if TYPE_CHECKING:
    from imagine_gateway.core.records import Account, ApiKey
    from imagine_gateway.services.accounts import AccountService, NewKey
    from imagine_gateway.services.operator import Operator

# Plain help (rich_markup_mode=None): typer's rich panels label every flag, --help included, "<bool>".
app = typer.Typer(
    cls=ServerCommandsGroup,  # without the server extra, its commands say how to install it
    no_args_is_help=True,
    rich_markup_mode=None,
    help="Imagine Gateway: Grok Imagine API platform.",
)
keys_app = typer.Typer(
    no_args_is_help=True,
    rich_markup_mode=None,
    help="Create, list and revoke API keys (works without a server).",
)
credits_app = typer.Typer(
    no_args_is_help=True, rich_markup_mode=None, help="Top up and show account credits."
)
db_app = typer.Typer(no_args_is_help=True, rich_markup_mode=None, help="Database schema.")
app.add_typer(keys_app, name="keys")
app.add_typer(credits_app, name="credits")
app.add_typer(db_app, name="db")

out = Console()
err = Console(stderr=True)


def _show_version(value: bool) -> None:
    if value:
        print(f"imagine-gateway {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: Annotated[
        bool,
        typer.Option("--version", help="Show the version and exit.", callback=_show_version, is_eager=True),
    ] = False,
) -> None:
    """Imagine Gateway: Grok Imagine API platform."""


def _settings(**overrides: Any) -> Settings:
    from imagine_gateway.settings import load_settings

    return load_settings(**{k: v for k, v in overrides.items() if v is not None})


def _fail(exc: GatewayError) -> None:
    err.print(f"[red]error[/red] {exc.code}: {exc.message}", highlight=False)
    raise typer.Exit(1)


def _run(coro: Any) -> Any:
    try:
        return asyncio.run(coro)
    except GatewayError as exc:
        _fail(exc)


def _with_accounts(call: Callable[[AccountService], Awaitable[Any]]) -> Any:
    """Run ``call`` on the accounts service of the configured database (no server needed)."""
    from imagine_gateway.services.accounts import open_accounts

    async def run() -> Any:
        async with open_accounts(_settings()) as accounts:
            return await call(accounts)

    return _run(run())


def _with_operator(call: Callable[[Operator], Awaitable[Any]]) -> Any:
    """Run ``call`` on the operator's services of the configured database (audited as ``cli``)."""
    from imagine_gateway.services.operator import open_operator

    async def run() -> Any:
        async with open_operator(_settings()) as op:
            return await call(op)

    return _run(run())


@app.command()
def serve(
    host: Annotated[str | None, typer.Option(help="Interface to bind (default 127.0.0.1)")] = None,
    port: Annotated[int | None, typer.Option(help="Port (default 8000)")] = None,
    workers_inside: Annotated[
        bool, typer.Option("--worker/--no-worker", help="Run the task worker in this process")
    ] = True,
    api_processes: Annotated[
        int, typer.Option("--workers", min=1, help="API processes on one port (SQLite: one runs the worker)")
    ] = 1,
) -> None:
    """Run the gateway (API + worker) on the embedded default or the configured stack."""
    import uvicorn

    from imagine_gateway.api.app import create_app
    from imagine_gateway.api.http_server import http_protocol
    from imagine_gateway.providers.registry import uses_sandbox
    from imagine_gateway.runtime import Overrides
    from imagine_gateway.telemetry.logs import configure_logging

    settings = _settings(host=host, port=port, run_worker=workers_inside)
    if "public_base_url" not in settings.model_fields_set:
        # Media URLs must point at where this server actually listens.
        shown_host = "127.0.0.1" if settings.host in ("0.0.0.0", "::") else settings.host
        settings = settings.model_copy(update={"public_base_url": f"http://{shown_host}:{settings.port}"})
    if api_processes > 1:
        _serve_processes(settings, api_processes)
        return
    application = create_app(settings, Overrides(announce_sandbox=False), freeze_gc=True)
    if uses_sandbox(application.state.ctx.router):
        out.print(
            "[bold yellow]SANDBOX MODE[/bold yellow]: no upstream key is configured (XAI_API_KEY or a "
            "providers file), so generations are rendered locally by the sandbox engine and marked as such."
        )
    out.print(
        f"Imagine Gateway on http://{settings.host}:{settings.port}  (state: {settings.home.resolve()})"
    )
    if settings.grpc_port is not None:
        out.print(f"xAI gRPC API (xai-sdk) on {settings.host}:{settings.grpc_port or '<any free port>'}")
    configure_logging(settings)
    # Logging is configured above (JSON lines by default); the gateway writes its own access line.
    uvicorn.run(
        application,
        host=settings.host,
        port=settings.port,
        log_level=settings.log_level,
        proxy_headers=True,
        log_config=None,
        access_log=False,
        http=http_protocol(settings),
    )


def _serve_processes(settings: Settings, count: int) -> None:
    """``imagine serve --workers N``: the supervisor of N API processes (``cli/serving.py``)."""
    from imagine_gateway.catalog.loader import load_catalog
    from imagine_gateway.cli.serving import run_processes
    from imagine_gateway.providers.registry import build_router, uses_sandbox
    from imagine_gateway.telemetry.logs import configure_logging

    if settings.grpc_port is not None:
        err.print("[red]error[/red] IMAGINE_GRPC_PORT serves from one process: leave --workers at 1.")
        raise typer.Exit(2)
    if uses_sandbox(build_router(settings, load_catalog(settings.catalog_file))):
        out.print(
            "[bold yellow]SANDBOX MODE[/bold yellow]: no upstream key is configured (XAI_API_KEY or a "
            "providers file), so generations are rendered locally by the sandbox engine and marked as such."
        )
    out.print(
        f"Imagine Gateway on http://{settings.host}:{settings.port}, {count} API processes "
        f"(state: {settings.home.resolve()})"
    )
    if settings.redis_url is None:
        out.print(
            "Without IMAGINE_REDIS_URL each API process counts rate limits and delivers events on its own."
        )
    configure_logging(settings)
    run_processes(settings, count)


@app.command()
def worker() -> None:
    """Run a worker process only (scale-out: any number of them share the database)."""
    from imagine_gateway.telemetry.logs import configure_logging
    from imagine_gateway.worker.process import run_worker_process

    settings = _settings()
    configure_logging(settings)
    eventloop.run(run_worker_process(settings))


@db_app.command("upgrade")
@reports_database
def db_upgrade() -> None:
    """Create or migrate the schema to the latest version."""
    from imagine_gateway.store.migrate import upgrade

    settings = _settings()
    upgrade(settings.resolved_database_url)
    out.print(f"schema is up to date ({settings.resolved_database_url.split('@')[-1]})")


@keys_app.command("create")
@reports_database
def keys_create(
    name: Annotated[str, typer.Option(help="A name for the key (and for a new account)")] = "default",
    account: Annotated[
        str | None, typer.Option(help="Existing account id or name; default: a new account")
    ] = None,
    credits: Annotated[int, typer.Option(help="Credits to add to the account")] = 0,
    scope: Annotated[
        list[str] | None, typer.Option(help="Scopes (repeat); default all", metavar="SCOPE")
    ] = None,
    expires_in_days: Annotated[float | None, typer.Option(help="Expire the key after this many days")] = None,
    rate_limit: Annotated[str | None, typer.Option(help="Per-key rate limit, e.g. '60/minute'")] = None,
    limit_total: Annotated[int | None, typer.Option(help="Spend cap over the key's life, credits")] = None,
    limit_daily: Annotated[int | None, typer.Option(help="Spend cap per UTC day, credits")] = None,
    limit_monthly: Annotated[int | None, typer.Option(help="Spend cap per UTC month, credits")] = None,
    model: Annotated[
        list[str] | None, typer.Option(help="Allow only these models (repeat)", metavar="MODEL")
    ] = None,
) -> None:
    """Create an API key (--scope admin for the admin API). The secret is printed once, alone on
    the last line."""
    from imagine_gateway.core.budgets import parse_limits

    async def create(accounts: AccountService) -> NewKey:
        caps = {"total": limit_total, "daily": limit_daily, "monthly": limit_monthly}
        return await accounts.create_key(
            name=name,
            account_ref=account,
            credits=credits,
            scopes=scope,
            expires_in_s=expires_in_days * 86400 if expires_in_days else None,
            rate_limit=rate_limit,
            limits=parse_limits({k: v for k, v in caps.items() if v is not None}),
            models=model or None,
        )

    made = _with_accounts(create)
    out.print(
        f"account {made.account.id} ({made.account.name}), balance {made.balance} credits", highlight=False
    )
    out.print(
        f"key {made.key.id} ({made.key.prefix}...), scopes: {', '.join(made.key.scopes)}", highlight=False
    )
    out.print("The secret below is shown only now; store it safely.", highlight=False)
    sys.stdout.flush()
    print(made.secret)


@keys_app.command("list")
@reports_database
def keys_list(
    account: Annotated[str | None, typer.Option(help="Only this account's keys")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Machine-readable output")] = False,
) -> None:
    """List API keys (prefixes only; secrets are never stored)."""
    keys = _with_accounts(lambda accounts: accounts.list_keys(account))
    rows = [
        {
            "id": k.id,
            "account_id": k.account_id,
            "name": k.name,
            "prefix": k.prefix,
            "scopes": k.scopes,
            "created_at": iso_ms(k.created_at),
            "expires_at": iso_ms(k.expires_at),
            "revoked_at": iso_ms(k.revoked_at),
        }
        for k in keys
    ]
    if as_json:
        print(json.dumps(rows, indent=2))
        return
    table = Table("id", "account", "name", "prefix", "created", "state")
    for r in rows:
        state = (
            "revoked" if r["revoked_at"] else ("expires " + r["expires_at"] if r["expires_at"] else "active")
        )
        table.add_row(r["id"], r["account_id"], r["name"], r["prefix"], r["created_at"] or "", state)
    out.print(table)


@keys_app.command("revoke")
@reports_database
def keys_revoke(key: Annotated[str, typer.Argument(help="Key id or visible prefix")]) -> None:
    """Revoke a key: refused at once with Redis, else within IMAGINE_KEY_CACHE_S (1 s)."""
    from imagine_gateway.services.admin import Actor

    async def revoke(op: Operator) -> ApiKey:
        return await op.admin.revoke_key(Actor.cli(), (await op.admin.find_key(key)).id)

    revoked = _with_operator(revoke)
    out.print(f"revoked {revoked.id} ({revoked.prefix}...)", highlight=False)


@credits_app.command("topup")
@reports_database
def credits_topup(
    account: Annotated[str, typer.Argument(help="Account id or name")],
    amount: Annotated[int, typer.Argument(help="Credits to add (negative to adjust down)")],
    note: Annotated[str | None, typer.Option(help="Ledger note")] = None,
    reference: Annotated[str | None, typer.Option(help="External reference (a payment id)")] = None,
) -> None:
    """Add credits to an account (one ledger row; a negative amount is an adjustment)."""
    from imagine_gateway.services.admin import Actor

    async def change(op: Operator) -> Account:
        found = await op.admin.find_account(account)
        if amount < 0:
            why = note or "imagine credits topup"
            made = await op.credits.adjust(Actor.cli(), found.id, amount, reason=why, idempotency_key=None)
        else:
            made = await op.credits.topup(
                Actor.cli(), found.id, amount, reference=reference, note=note, idempotency_key=None
            )
        return made.account

    acct = _with_operator(change)
    out.print(f"{acct.id} ({acct.name}): balance {acct.balance}, reserved {acct.reserved}", highlight=False)


@credits_app.command("show")
@reports_database
def credits_show(
    account: Annotated[str, typer.Argument(help="Account id or name")],
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Show an account's balance and reserved credits."""
    acct = _with_accounts(lambda accounts: accounts.find_account(account))
    if as_json:
        print(
            json.dumps({"id": acct.id, "name": acct.name, "balance": acct.balance, "reserved": acct.reserved})
        )
    else:
        out.print(
            f"{acct.id} ({acct.name}): balance {acct.balance}, reserved {acct.reserved}", highlight=False
        )


@app.command("mock-upstream")
def mock_upstream(
    kind: Annotated[str, typer.Argument(help="xai | rivya | xai_compatible | grokimagineapi")],
    host: Annotated[str, typer.Option()] = "127.0.0.1",
    port: Annotated[int, typer.Option()] = 9100,
    generation_time_s: Annotated[float, typer.Option(help="Simulated generation time")] = 5.0,
    api_key: Annotated[str, typer.Option(help="Bearer key the mock accepts")] = "test-key",
    failure: Annotated[
        str, typer.Option(help="none|http_500|http_429|timeout|garbage_json|expired|moderation|failed|reset")
    ] = "none",
    failure_on: Annotated[str, typer.Option(help="submit|poll|both")] = "submit",
    fail_times: Annotated[int | None, typer.Option(help="Fail only the first N, then recover")] = None,
) -> None:
    """Run a mock upstream (for trying providers and failover by hand)."""
    from typing import get_args

    from imagine_gateway.testing.mock_upstreams import MockConfig, run_mock
    from imagine_gateway.testing.mock_upstreams.config import FailOn, FailureMode

    if failure not in get_args(FailureMode) or failure_on not in get_args(FailOn):
        err.print(
            f"error validation_failed: --failure is one of {', '.join(get_args(FailureMode))}; "
            f"--failure-on one of {', '.join(get_args(FailOn))}",
            highlight=False,
        )
        raise typer.Exit(2)
    config = MockConfig(
        api_key=api_key,
        generation_time_s=generation_time_s,
        failure=failure,  # type: ignore[arg-type]  # checked against the Literal above
        failure_on=failure_on,  # type: ignore[arg-type]
        fail_times=fail_times,
    )
    run_mock(kind, host=host, port=port, config=config)


# The operator's report, accounts, key limits and rotation, and the audit log.
admin_commands.register(app, keys_app, _run)
# Client side (models, generate, tasks, files): talks to a running gateway through the SDK.
client_commands.register(app)


def main() -> None:  # pragma: no cover
    app(prog_name="imagine")


if __name__ == "__main__":  # pragma: no cover
    main()
