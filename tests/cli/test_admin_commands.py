"""Server-side CLI commands work against the database with no server running."""

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


def test_keys_create_prints_the_secret_alone_on_the_last_line(runner: CliRunner) -> None:
    result = runner.invoke(app, ["keys", "create", "--name", "demo", "--credits", "100"])
    assert result.exit_code == 0, result.output
    last = result.stdout.strip().splitlines()[-1]
    assert last.startswith("igw_sk_") and len(last) > 40 and " " not in last
    assert "balance 100 credits" in result.stdout


def test_keys_list_shows_prefixes_never_secrets_and_revoke_marks_the_key(runner: CliRunner) -> None:
    secret = runner.invoke(app, ["keys", "create", "--name", "ops"]).stdout.strip().splitlines()[-1]
    listed = json.loads(runner.invoke(app, ["keys", "list", "--json"]).stdout)
    assert [(k["name"], k["prefix"], k["revoked_at"]) for k in listed] == [("ops", secret[:19], None)]
    assert secret not in runner.invoke(app, ["keys", "list"]).stdout
    revoked = runner.invoke(app, ["keys", "revoke", listed[0]["id"]])
    assert revoked.exit_code == 0
    assert json.loads(runner.invoke(app, ["keys", "list", "--json"]).stdout)[0]["revoked_at"] is not None


def test_credits_topup_and_show_by_account_name(runner: CliRunner) -> None:
    runner.invoke(app, ["keys", "create", "--name", "shop", "--credits", "5"])
    assert runner.invoke(app, ["credits", "topup", "shop", "20"]).exit_code == 0
    shown = json.loads(runner.invoke(app, ["credits", "show", "shop", "--json"]).stdout)
    assert (shown["name"], shown["balance"], shown["reserved"]) == ("shop", 25, 0)


def test_unknown_account_is_one_line_error_and_nonzero_exit(runner: CliRunner) -> None:
    result = runner.invoke(app, ["credits", "topup", "nobody", "5"])
    assert result.exit_code == 1
    assert result.stderr.strip() == "error not_found: No single account is called 'nobody'."


def test_mock_upstream_refuses_an_unknown_failure_mode_before_starting(runner: CliRunner) -> None:
    result = runner.invoke(app, ["mock-upstream", "xai", "--failure", "nope"])
    assert result.exit_code == 2
    assert result.stderr.startswith("error validation_failed: --failure is one of none, http_500")
