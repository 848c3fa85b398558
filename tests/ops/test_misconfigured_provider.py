"""A provider whose key the upstream refuses: visible at once, and its tasks end soon, refunded."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.conftest import Gateway
from tests.providers.conftest import FAST_UPSTREAM, StartMock, balance, create

VIDEO = "grok-imagine-video"
WRONG_KEY = "xai-WRONGwrongWRONGwrong0123456789"


def test_a_refused_key_fails_tasks_as_no_provider_available_with_a_refund_within_the_window(
    upstream: StartMock, xai_gateway: Callable[..., Gateway], caplog: pytest.LogCaptureFixture
) -> None:
    mock = upstream("xai", api_key="the-right-key")
    gateway = xai_gateway(mock, no_provider_timeout_s=2.0, provider_cool_down_s=30.0)
    key = gateway.key(credits=100)
    # The gateway holds UPSTREAM_KEY ("test-key"); the mock expects another one.
    started = time.monotonic()
    with caplog.at_level(logging.ERROR, logger="imagine_gateway"):
        task = create(gateway, key, VIDEO)
        done = gateway.wait_for(task["id"], key, timeout_s=20)
    took_s = time.monotonic() - started

    assert (done["status"], done["final_credits"], done["error"]["code"]) == (
        "failed",
        0,
        "no_provider_available",
    )
    message = done["error"]["message"]
    assert message.startswith("No provider could take this task within 2 s (xai: the upstream refuses")
    assert "Incorrect API key" in message
    assert message.endswith("It was never sent upstream; its credits were released.")
    assert balance(gateway, key) == 100
    assert 2.0 <= took_s < 8.0
    loud = [r.getMessage() for r in caplog.records if "MISCONFIGURED" in r.getMessage()]
    assert len(loud) == 1, loud
    assert "Incorrect API key" in loud[0]


def test_readyz_names_the_misconfigured_provider_and_turns_ready_once_a_probe_passes(
    upstream: StartMock, xai_gateway: Callable[..., Gateway]
) -> None:
    mock = upstream("xai", api_key="the-right-key")
    gateway = xai_gateway(mock, provider_cool_down_s=0.3)
    key = gateway.key(credits=100)
    assert gateway.http.get("/readyz").status_code == 200

    create(gateway, key, VIDEO)
    deadline = time.monotonic() + 10
    while (ready := gateway.http.get("/readyz")).status_code == 200:
        assert time.monotonic() < deadline, "the refused key never showed in /readyz"
        time.sleep(0.05)

    body = ready.json()
    assert ready.status_code == 503
    assert body["status"] == "not_ready"
    providers = body["checks"]["providers"]
    assert providers["status"] == "failing"
    assert providers["detail"].startswith("no usable provider for grok-imagine")
    assert list(providers["misconfigured"]) == ["xai"]
    assert "Incorrect API key" in providers["misconfigured"]["xai"]
    assert {name: check["status"] for name, check in body["checks"].items()} == {
        "database": "ok",
        "storage": "ok",
        "providers": "failing",
        "shutdown": "ok",
    }

    # The operator fixes the upstream side (the key is accepted again): the next probe puts it back.
    mock.mock.config.api_key = "test-key"
    deadline = time.monotonic() + 10
    while gateway.http.get("/readyz").status_code != 200:
        assert time.monotonic() < deadline, "the provider never came back"
        time.sleep(0.05)
    assert gateway.http.get("/readyz").json()["checks"]["providers"]["misconfigured"] == {}


def test_a_provider_that_is_only_rate_limited_is_waited_for_however_long_the_window(
    upstream: StartMock, gateway_factory: Callable[..., Gateway], tmp_path: Path
) -> None:
    mock = upstream("xai")
    providers = tmp_path / "providers.toml"
    providers.write_text(
        f"""
[[providers]]
name = "xai"
kind = "xai"
base_url = "{mock.base_url}"
api_key = "test-key"
rate_limit = "1/2 seconds"
"""
    )
    gateway = gateway_factory(providers_file=providers, no_provider_timeout_s=0.5, **FAST_UPSTREAM)
    key = gateway.key(credits=100)

    tasks = [create(gateway, key, VIDEO)["id"] for _ in range(2)]

    # The second waits about 2 s for the submit rate, four times the no-provider window: the
    # provider is in, only busy, so the task is not given up.
    assert [gateway.wait_for(t, key)["status"] for t in tasks] == ["succeeded", "succeeded"]
