"""Fixtures of the console's browser tests: one gateway and one Chromium per module.

The browser is Debian's Chromium (``/usr/bin/chromium``) driven by Playwright for Python; Playwright's
own browser downloads are never used. Screenshots go to ``test-artifacts/console/`` (git-ignored).
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import Gateway, Key, start_gateway
from tests.webhooks.conftest import FAST_WEBHOOKS, Receiver, receiving

CHROMIUM = "/usr/bin/chromium"
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "console"


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Gateway]:
    """A gateway on the sandbox engine shared by the module's tests (it may deliver webhooks to loopback)."""
    gateway = start_gateway(tmp_path_factory.mktemp("console") / "home", **FAST_WEBHOOKS)
    yield gateway
    gateway.stop()


@pytest.fixture
def hooks() -> Iterator[Receiver]:
    """A real webhook receiver on loopback that records what it is sent."""
    with receiving() as made:
        yield made


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """One headless Chromium for the module (skipped, saying why, where it cannot run)."""
    if not Path(CHROMIUM).exists() and shutil.which("chromium") is None:
        pytest.skip("Debian's chromium is not installed (apt-get install chromium)")
    sync_api = pytest.importorskip(
        "playwright.sync_api", reason="playwright (the dev extra) is not installed"
    )
    with sync_api.sync_playwright() as playwright:
        launched = playwright.chromium.launch(
            executable_path=CHROMIUM if Path(CHROMIUM).exists() else shutil.which("chromium"),
            args=["--no-sandbox", "--disable-gpu", "--autoplay-policy=no-user-gesture-required"],
        )
        yield launched
        launched.close()


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    """A fresh tab (its own session storage) at desktop size; page errors fail the test."""
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    context.set_default_timeout(10_000)
    tab = context.new_page()
    errors: list[str] = []
    tab.on("pageerror", lambda error: errors.append(str(error)))
    yield tab
    context.close()
    assert errors == []


def new_key(gateway: Gateway, **options: Any) -> Key:
    """``gateway.key(...)`` from a thread: Playwright's sync API keeps an event loop on this one."""
    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(gateway.key, **options).result()


def sign_in(page: Any, gateway: Gateway, key: Key) -> None:
    """Opens the console and signs in through its form, as a person does."""
    page.goto(f"{gateway.base_url}/console")
    page.get_by_label("API key").fill(key.secret)
    page.get_by_role("button", name="Sign in").click()
    page.get_by_role("heading", name="Gallery").wait_for()


def screenshot(page: Any, name: str) -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / name
    page.screenshot(path=str(path), full_page=False)
    return path
