"""The operator's commands beyond key creation: accounts, key limits and rotation, the audit log
and the margin report. They call the same services as the admin API (audited as ``cli``):

    imagine report --from 2026-12-01 --to 2026-12-31 --group-by day,model
    imagine accounts disable shop
    imagine keys limits KEY_ID --daily 500 --model grok-imagine-video
    imagine keys rotate KEY_ID
"""

from __future__ import annotations

import json
import sys
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from imagine_gateway.cli.state import reports_database
from imagine_gateway.core.timefmt import iso_ms

if TYPE_CHECKING:
    from imagine_gateway.services.operator import Operator

accounts_app = typer.Typer(
    no_args_is_help=True, rich_markup_mode=None, help="List, disable and enable accounts."
)
out = Console()

_FIELD = {"account": "account_id"}  # the API's name of the account group
AsJson = Annotated[bool, typer.Option("--json", help="Machine-readable output")]


def register(app: typer.Typer, keys_app: typer.Typer, run: Callable[[Any], Any]) -> None:
    """Add the operator's commands; ``run`` runs a coroutine and reports a ``GatewayError``."""

    def operate(call: Callable[[Operator], Awaitable[Any]]) -> Any:
        from imagine_gateway.services.operator import open_operator
        from imagine_gateway.settings import load_settings

        async def go() -> Any:
            async with open_operator(load_settings()) as op:
                return await call(op)

        return run(go())

    @app.command("report")
    @reports_database
    def report(
        start: Annotated[str | None, typer.Option("--from", help="First UTC day, YYYY-MM-DD")] = None,
        end: Annotated[
            str | None, typer.Option("--to", help="Last UTC day, YYYY-MM-DD (default today)")
        ] = None,
        group_by: Annotated[
            str, typer.Option(help="Comma-separated: day, model, provider, account")
        ] = "day,model,provider,account",
        account: Annotated[str | None, typer.Option(help="Only this account (id or name)")] = None,
        as_json: AsJson = False,
    ) -> None:
        """Revenue, upstream cost and margin of settled tasks, per group."""
        groups = [g.strip() for g in group_by.split(",") if g.strip()]

        async def call(op: Operator) -> Any:
            account_id = (await op.admin.find_account(account)).id if account else None
            return await op.reports.margin(start=start, end=end, group_by=groups, account_id=account_id)

        made = operate(call)
        rows = [_report_row(r.groups, r.tasks, r.margin) for r in made.rows]
        total = _report_row({}, made.total.tasks, made.total.margin)
        if as_json:
            body = {
                "from": made.start.isoformat(),
                "to": made.end.isoformat(),
                "group_by": list(made.group_by),
            }
            print(json.dumps({**body, "data": rows, "total": total}, indent=2))
            return
        columns = [*made.group_by, "tasks", "revenue credits", "revenue USD", "upstream USD", "margin USD"]
        table = Table(*columns, title=f"Margin {made.start} .. {made.end}", show_footer=False)
        for r in rows:
            table.add_row(*[str(r[_FIELD.get(g, g)]) for g in made.group_by], *_money_cells(r))
        table.add_section()
        table.add_row(
            *(["total"] + [""] * (len(made.group_by) - 1) if made.group_by else []), *_money_cells(total)
        )
        Console().print(table)  # made now: a terminal's width (or COLUMNS) as it is at this run

    @keys_app.command("rotate")
    @reports_database
    def keys_rotate(key: Annotated[str, typer.Argument(help="Key id or visible prefix")]) -> None:
        """A new secret for a key (printed once, alone on the last line); the old one stops working."""
        from imagine_gateway.services.admin import Actor

        async def call(op: Operator) -> Any:
            return await op.admin.rotate_key(Actor.cli(), (await op.admin.find_key(key)).id)

        made = operate(call)
        out.print(f"rotated {made.key.id}: new prefix {made.key.prefix}...", highlight=False, soft_wrap=True)
        sys.stdout.flush()
        print(made.secret)

    @keys_app.command("limits")
    @reports_database
    def keys_limits(
        key: Annotated[str, typer.Argument(help="Key id or visible prefix")],
        total: Annotated[int | None, typer.Option(help="Cap on all the key's spend, in credits")] = None,
        daily: Annotated[int | None, typer.Option(help="Cap per UTC day, in credits")] = None,
        monthly: Annotated[int | None, typer.Option(help="Cap per UTC month, in credits")] = None,
        no_caps: Annotated[bool, typer.Option("--no-caps", help="Remove every cap")] = False,
        model: Annotated[
            list[str] | None, typer.Option(help="Allow only these models (repeat)", metavar="MODEL")
        ] = None,
        all_models: Annotated[bool, typer.Option("--all-models", help="Allow every model")] = False,
    ) -> None:
        """Set a key's spend caps (credits; the others stay) and model allowlist."""
        from imagine_gateway.core.budgets import KeyLimits, parse_limits
        from imagine_gateway.services.admin import Actor, KeyChanges

        async def call(op: Operator) -> Any:
            found = await op.admin.find_key(key)
            given = {
                k: v for k, v in {"total": total, "daily": daily, "monthly": monthly}.items() if v is not None
            }
            limits = KeyLimits() if no_caps else parse_limits(given, base=found.limits) if given else None
            changes = KeyChanges(limits=limits, models=model or None, clear_models=all_models)
            return await op.admin.update_key(Actor.cli(), found.id, changes)

        changed = operate(call)
        caps = ", ".join(f"{k} {v if v is not None else 'none'}" for k, v in changed.limits.as_dict().items())
        models = ", ".join(changed.models) if changed.models is not None else "every model"
        out.print(f"{changed.id}: caps {caps}; models: {models}", highlight=False, soft_wrap=True)

    @app.command("audit")
    @reports_database
    def audit(
        limit: Annotated[int, typer.Option(help="How many rows, newest first")] = 50,
        account: Annotated[str | None, typer.Option(help="Only actions on this account id")] = None,
        as_json: AsJson = False,
    ) -> None:
        """The audit log: every admin action, who made it and on what."""
        rows, _ = operate(lambda op: op.admin.audit_log(cursor=None, limit=limit, account_id=account))
        shown = [
            {
                "id": r.id,
                "created_at": iso_ms(r.created_at),
                "actor": r.actor,
                "action": r.action,
                "target": f"{r.target_type} {r.target_id}",
                "details": r.details,
            }
            for r in rows
        ]
        if as_json:
            print(json.dumps(shown, indent=2))
            return
        table = Table("when", "actor", "action", "target")
        for r in shown:
            table.add_row(r["created_at"], r["actor"], r["action"], r["target"])
        out.print(table)

    @accounts_app.command("list")
    @reports_database
    def accounts_list(as_json: AsJson = False) -> None:
        """Accounts, newest first (up to 100)."""
        page = operate(lambda op: op.admin.list_accounts(cursor=None, limit=100))
        rows = [
            {
                "id": a.id,
                "name": a.name,
                "balance": a.balance,
                "reserved": a.reserved,
                "status": "disabled" if a.disabled_at is not None else "active",
            }
            for a in page.items
        ]
        if as_json:
            print(json.dumps(rows, indent=2))
            return
        table = Table("id", "name", "balance", "reserved", "status")
        for r in rows:
            table.add_row(r["id"], r["name"], str(r["balance"]), str(r["reserved"]), r["status"])
        out.print(table)

    def toggle(account: str, *, disabled: bool) -> None:
        from imagine_gateway.services.admin import Actor

        async def call(op: Operator) -> Any:
            found = await op.admin.find_account(account)
            return await op.admin.set_disabled(Actor.cli(), found.id, disabled=disabled)

        changed = operate(call)
        out.print(
            f"{changed.id} ({changed.name}): {'disabled' if disabled else 'active'}",
            highlight=False,
            soft_wrap=True,
        )

    @accounts_app.command("disable")
    @reports_database
    def accounts_disable(account: Annotated[str, typer.Argument(help="Account id or name")]) -> None:
        """Disable an account: its keys get account_disabled at once."""
        toggle(account, disabled=True)

    @accounts_app.command("enable")
    @reports_database
    def accounts_enable(account: Annotated[str, typer.Argument(help="Account id or name")]) -> None:
        """Enable a disabled account again."""
        toggle(account, disabled=False)

    app.add_typer(accounts_app, name="accounts")


def _report_row(groups: dict[str, str | None], tasks: int, margin: Any) -> dict[str, Any]:
    from imagine_gateway.core.money import usd_text

    return {
        **{_FIELD.get(k, k): v for k, v in groups.items() if v is not None},
        "tasks": tasks,
        "revenue_credits": margin.revenue_credits,
        "revenue_usd": usd_text(margin.revenue_usd),
        "upstream_cost_usd": usd_text(margin.upstream_cost_usd),
        "margin_usd": usd_text(margin.margin_usd),
    }


def _money_cells(row: dict[str, Any]) -> list[str]:
    return [
        str(row["tasks"]),
        str(row["revenue_credits"]),
        row["revenue_usd"],
        row["upstream_cost_usd"],
        row["margin_usd"],
    ]
