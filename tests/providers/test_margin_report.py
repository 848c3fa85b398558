"""Revenue, upstream cost and margin from tasks whose cost the (mock) xAI API reports."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime

import pytest
from typer.testing import CliRunner

from imagine_gateway.cli.main import app
from tests.budgets import admin_key
from tests.conftest import Gateway
from tests.providers.conftest import StartMock, create

# At the default credit value of 0.005 USD: a 6 s video is 10 credits ($0.05) and costs xAI's $0.30;
# an image is 4 credits ($0.02) and costs $0.02.
VIDEO_ROW = {
    "model": "grok-imagine-video",
    "tasks": 1,
    "revenue_credits": 10,
    "revenue_usd": "0.050000",
    "upstream_cost_usd": "0.300000",
    "margin_usd": "-0.250000",
}
IMAGE_ROW = {
    "model": "grok-imagine",
    "tasks": 1,
    "revenue_credits": 4,
    "revenue_usd": "0.020000",
    "upstream_cost_usd": "0.020000",
    "margin_usd": "0.000000",
}
TOTAL = {
    "tasks": 2,
    "revenue_credits": 14,
    "revenue_usd": "0.070000",
    "upstream_cost_usd": "0.320000",
    "margin_usd": "-0.250000",
}


@pytest.fixture
def settled(upstream: StartMock, xai_gateway: Callable[..., Gateway]) -> tuple[Gateway, str, dict[str, str]]:
    """A gateway on mock xAI with one video and one image settled; (gateway, account, task ids)."""
    gateway = xai_gateway(upstream("xai"))
    key = gateway.key(credits=100)
    tasks = {
        "video": create(gateway, key, "grok-imagine-video", {"duration": 6})["id"],
        "image": create(gateway, key, "grok-imagine")["id"],
    }
    for task_id in tasks.values():
        assert gateway.wait_for(task_id, key)["status"] == "succeeded"
    return gateway, key.account_id, tasks


def test_the_margin_report_groups_revenue_cost_and_margin_by_day_model_provider_account(
    settled: tuple[Gateway, str, dict[str, str]],
) -> None:
    gateway, account_id, _ = settled
    admin = admin_key(gateway)
    today = datetime.now(UTC).date().isoformat()

    report = gateway.http.get(f"/api/v1/admin/reports/margin?from={today}&to={today}", headers=admin.headers)

    group = {"day": today, "provider": "xai", "account_id": account_id}
    assert report.status_code == 200
    assert report.json() == {
        "object": "report",
        "from": today,
        "to": today,
        "group_by": ["day", "model", "provider", "account"],
        "credit_usd": "0.005",
        "data": [{**group, **IMAGE_ROW}, {**group, **VIDEO_ROW}],
        "total": TOTAL,
    }
    by_provider = gateway.http.get(
        f"/api/v1/admin/reports/margin?from={today}&to={today}&group_by=provider", headers=admin.headers
    ).json()
    assert by_provider["data"] == [
        {"day": None, "model": None, "provider": "xai", "account_id": None, **TOTAL}
    ]


def test_the_admin_task_view_shows_the_tasks_revenue_cost_and_margin(
    settled: tuple[Gateway, str, dict[str, str]],
) -> None:
    gateway, account_id, tasks = settled
    admin = admin_key(gateway)

    view = gateway.http.get(f"/api/v1/admin/generations/{tasks['video']}", headers=admin.headers).json()
    listed = gateway.http.get(
        f"/api/v1/admin/generations?account_id={account_id}", headers=admin.headers
    ).json()

    money = {k: view[k] for k in ("account_id", "provider", "upstream_cost_ticks", "charged_credits")}
    assert money == {
        "account_id": account_id,
        "provider": "xai",
        "upstream_cost_ticks": 3_000_000_000,
        "charged_credits": 10,
    }
    assert {k: view[k] for k in ("revenue_usd", "upstream_cost_usd", "margin_usd")} == {
        "revenue_usd": "0.050000",
        "upstream_cost_usd": "0.300000",
        "margin_usd": "-0.250000",
    }
    assert [t["id"] for t in listed["data"]] == [tasks["image"], tasks["video"]]
    assert listed["data"][1] == view


def test_imagine_report_prints_the_same_numbers(
    settled: tuple[Gateway, str, dict[str, str]], monkeypatch: pytest.MonkeyPatch
) -> None:
    gateway, _, _ = settled
    monkeypatch.setenv("IMAGINE_HOME", str(gateway.settings.home))
    monkeypatch.setenv("COLUMNS", "160")  # one line per row
    today = datetime.now(UTC).date().isoformat()
    runner = CliRunner()

    as_json = runner.invoke(app, ["report", "--from", today, "--to", today, "--group-by", "model", "--json"])
    table = runner.invoke(app, ["report", "--from", today, "--to", today, "--group-by", "model"])

    assert as_json.exit_code == 0, as_json.output
    assert json.loads(as_json.stdout) == {
        "from": today,
        "to": today,
        "group_by": ["model"],
        "data": [IMAGE_ROW, VIDEO_ROW],
        "total": TOTAL,
    }
    assert table.exit_code == 0, table.output
    lines = [" ".join(line.replace("│", " ").split()) for line in table.stdout.splitlines()]
    assert "grok-imagine-video 1 10 0.050000 0.300000 -0.250000" in lines
    assert "grok-imagine 1 4 0.020000 0.020000 0.000000" in lines
    assert "total 2 14 0.070000 0.320000 -0.250000" in lines
