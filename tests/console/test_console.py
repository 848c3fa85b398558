"""The web console is served by the gateway and drives the native API."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from tests.conftest import Gateway


def test_console_page_and_assets_are_served(gateway: Gateway) -> None:
    page = gateway.http.get("/console")
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    assert '<script src="/console/static/console.js"></script>' in page.text
    script = gateway.http.get("/console/static/console.js")
    assert script.status_code == 200
    assert "/api/v1/generations" in script.text
    assert gateway.http.get("/", follow_redirects=False).headers["location"] == "/console"


@pytest.mark.skipif(shutil.which("chromium") is None, reason="Debian's chromium is not installed")
def test_console_renders_tasks_in_a_headless_browser(gateway: Gateway, tmp_path: Path) -> None:
    """Chromium loads the console with a key in sessionStorage and shows the account's task."""
    key = gateway.key(credits=10)
    task = gateway.http.post(
        "/api/v1/generations", headers=key.headers, json={"model": "grok-imagine", "prompt": "console"}
    ).json()
    gateway.wait_for(task["id"], key)
    dump = subprocess.run(
        [
            "chromium",
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            f"--user-data-dir={tmp_path / 'profile'}",
            "--virtual-time-budget=8000",
            "--dump-dom",
            f"{gateway.base_url}/console#key={key.secret}",
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert task["id"] in dump.stdout
    assert "succeeded" in dump.stdout
