"""Gateways wired to mock upstreams over real loopback HTTP, with polling fast enough for tests."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from imagine_gateway.core.records import Task
from imagine_gateway.providers.sandbox import render_video
from imagine_gateway.store import tasks as task_store
from imagine_gateway.store.db import Database
from imagine_gateway.testing.mock_upstreams import MockConfig, RunningMock, start_mock
from tests.conftest import Gateway, Key

UPSTREAM_KEY = "test-key"
GENERATION_S = 0.3
# Poll every 0.1-0.2 s, give up on a request after 1 s, probe a cooled-down provider quickly.
FAST_UPSTREAM: dict[str, Any] = {
    "poll_first_s": 0.1,
    "poll_max_interval_s": 0.2,
    "upstream_timeout_s": 1.0,
    "provider_probe_interval_s": 0.05,
    "provider_cool_down_s": 0.5,
    "provider_failure_threshold": 3,
}

StartMock = Callable[..., RunningMock]


@pytest.fixture(scope="session")
def small_video(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A real one-second MP4 the mocks serve for every video, so tests do not wait on renders."""
    path = tmp_path_factory.mktemp("media") / "small.mp4"
    render_video("mock result", 320, 180, 1.0, path, fps=4)
    return path


@pytest.fixture
def upstream(small_video: Path) -> Iterator[StartMock]:
    """``upstream(kind, **config)`` starts a mock upstream; all are stopped at the end of the test."""
    running: list[RunningMock] = []

    def start(kind: str, **config: Any) -> RunningMock:
        config.setdefault("generation_time_s", GENERATION_S)
        config.setdefault("hang_s", 3.0)
        config.setdefault("media_file", small_video)
        mock = start_mock(kind, MockConfig(**config))
        running.append(mock)
        return mock

    yield start
    for mock in running:
        mock.stop()


@pytest.fixture
def xai_gateway(gateway_factory: Callable[..., Gateway]) -> Callable[..., Gateway]:
    """``xai_gateway(mock, **settings)``: a gateway whose only provider is xAI at ``mock``."""

    def start(mock: RunningMock, **settings: Any) -> Gateway:
        values = {**FAST_UPSTREAM, **settings}
        return gateway_factory(XAI_API_KEY=UPSTREAM_KEY, XAI_BASE_URL=mock.base_url, **values)

    return start


@pytest.fixture
def routed_gateway(gateway_factory: Callable[..., Gateway], tmp_path: Path) -> Callable[..., Gateway]:
    """``routed_gateway(toml_text, **settings)``: a gateway configured by a providers file."""

    def start(providers_toml: str, **settings: Any) -> Gateway:
        path = tmp_path / "providers.toml"
        path.write_text(providers_toml)
        return gateway_factory(providers_file=path, **{**FAST_UPSTREAM, **settings})

    return start


def create(gateway: Gateway, key: Key, model: str, params: dict[str, Any] | None = None) -> dict[str, Any]:
    """POST a generation and return the created task (asserting it was accepted)."""
    response = gateway.http.post(
        "/api/v1/generations",
        headers=key.headers,
        json={"model": model, "prompt": "A lighthouse at dusk", "params": params or {}},
    )
    assert response.status_code == 202, response.text
    body: dict[str, Any] = response.json()
    return body


def balance(gateway: Gateway, key: Key) -> int:
    value: int = gateway.http.get("/api/v1/credits", headers=key.headers).json()["balance"]
    return value


def task_row(gateway: Gateway, task_id: str) -> Task:
    """The stored task, read through a second connection to the gateway's database."""

    async def read() -> Task | None:
        db = Database(gateway.settings.resolved_database_url)
        try:
            async with db.read() as conn:
                return await task_store.get_task(conn, task_id)
        finally:
            await db.dispose()

    task = asyncio.run(read())
    assert task is not None
    return task


def wait_until(condition: Callable[[], bool], *, timeout_s: float = 10.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        time.sleep(0.02)
