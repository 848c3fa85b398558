"""The operator's commands call the admin services: audited as `cli`, no server needed."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from imagine_gateway.cli.main import app


@pytest.fixture
def runner(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> CliRunner:
    monkeypatch.setenv("IMAGINE_HOME", str(tmp_path / "home"))
    return CliRunner()


def _key(runner: CliRunner, *args: str) -> dict[str, object]:
    made = runner.invoke(app, ["keys", "create", *args])
    assert made.exit_code == 0, made.output
    listed = json.loads(runner.invoke(app, ["keys", "list", "--json"]).stdout)
    return listed[-1]  # type: ignore[no-any-return]


def test_an_admin_key_is_made_with_scope_admin_and_only_when_asked(runner: CliRunner) -> None:
    customer = _key(runner, "--name", "shop")
    operator = _key(runner, "--name", "ops", "--scope", "admin")
    assert "admin" not in customer["scopes"]  # type: ignore[operator]
    assert "keys:manage" in customer["scopes"]  # type: ignore[operator]
    assert operator["scopes"] == ["admin"]
    unknown = runner.invoke(app, ["keys", "create", "--scope", "root"])
    assert (unknown.exit_code, unknown.stderr.splitlines()[0]) == (
        1,
        "error validation_failed: scopes: unknown scope 'root'",
    )


def test_accounts_are_listed_disabled_and_enabled(runner: CliRunner) -> None:
    _key(runner, "--name", "shop", "--credits", "5")
    disabled = runner.invoke(app, ["accounts", "disable", "shop"])
    listed = json.loads(runner.invoke(app, ["accounts", "list", "--json"]).stdout)
    enabled = runner.invoke(app, ["accounts", "enable", "shop"])
    assert disabled.exit_code == 0 and disabled.stdout.strip().endswith("(shop): disabled")
    assert [(a["name"], a["balance"], a["status"]) for a in listed] == [("shop", 5, "disabled")]
    assert enabled.stdout.strip().endswith("(shop): active")


def test_key_limits_and_rotation_from_the_command_line(runner: CliRunner) -> None:
    key = _key(runner, "--name", "shop", "--limit-daily", "50", "--model", "grok-imagine")
    limited = runner.invoke(app, ["keys", "limits", str(key["id"]), "--total", "900"])
    everything = runner.invoke(app, ["keys", "limits", str(key["id"]), "--no-caps", "--all-models"])
    rotated = runner.invoke(app, ["keys", "rotate", str(key["id"])])

    assert (
        limited.stdout.strip() == f"{key['id']}: caps total 900, daily 50, monthly none; models: grok-imagine"
    )
    assert (
        everything.stdout.strip()
        == f"{key['id']}: caps total none, daily none, monthly none; models: every model"
    )
    secret = rotated.stdout.strip().splitlines()[-1]
    assert secret.startswith("igw_sk_") and secret[:19] != key["prefix"]


def test_top_ups_with_a_reference_credit_once_and_every_action_is_in_the_audit_log(runner: CliRunner) -> None:
    key = _key(runner, "--name", "shop")
    first = runner.invoke(app, ["credits", "topup", "shop", "20", "--reference", "pay_1"])
    again = runner.invoke(app, ["credits", "topup", "shop", "20", "--reference", "pay_1"])
    down = runner.invoke(app, ["credits", "topup", "--note", "refund", "shop", "--", "-5"])
    runner.invoke(app, ["keys", "revoke", str(key["id"])])

    assert first.exit_code == 0 and first.stdout.strip().endswith("balance 20, reserved 0")
    assert (again.exit_code, again.stderr.strip()) == (
        1,
        "error idempotency_conflict: The reference 'pay_1' already credited this account.",
    )
    assert down.stdout.strip().endswith("balance 15, reserved 0")
    audit = json.loads(runner.invoke(app, ["audit", "--json"]).stdout)
    assert [(r["actor"], r["action"]) for r in audit] == [
        ("cli", "key.revoke"),
        ("cli", "credits.adjust"),
        ("cli", "credits.topup"),
        ("cli", "key.create"),
    ]
