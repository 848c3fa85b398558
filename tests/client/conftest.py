"""A live gateway on loopback, an API key on it, and SDK clients pointed at it."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from PIL import Image

from imagine_gateway import Client
from tests.conftest import Gateway, Key, start_gateway


@pytest.fixture(scope="module")
def shared_gateway(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Gateway]:
    """One gateway for a module's tests; each test gets its own account through its own key."""
    gateway = start_gateway(tmp_path_factory.mktemp("gateway"))
    yield gateway
    gateway.stop()


@dataclass
class Live:
    gateway: Gateway
    key: Key
    client: Client


@pytest.fixture
def live(shared_gateway: Gateway) -> Iterator[Live]:
    gateway = shared_gateway
    key = gateway.key(credits=1000)
    with Client(base_url=gateway.base_url, api_key=key.secret) as client:
        yield Live(gateway, key, client)


@pytest.fixture(scope="module")
def slow_gateway(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Gateway]:
    """A gateway whose sandbox takes 30 s, so tasks stay in flight during the test."""
    gateway = start_gateway(tmp_path_factory.mktemp("slow"), sandbox_latency_s=30)
    yield gateway
    gateway.stop()


@pytest.fixture
def slow_live(slow_gateway: Gateway) -> Iterator[Live]:
    key = slow_gateway.key(credits=1000)
    with Client(base_url=slow_gateway.base_url, api_key=key.secret) as client:
        yield Live(slow_gateway, key, client)


@pytest.fixture(scope="module")
def failing_gateway(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Gateway]:
    """A gateway whose sandbox fails every generation (credits released, error recorded)."""
    gateway = start_gateway(tmp_path_factory.mktemp("failing"), sandbox_failure_rate=1.0)
    yield gateway
    gateway.http.close()
    gateway.server.stop()


@pytest.fixture
def failing_live(failing_gateway: Gateway) -> Iterator[Live]:
    key = failing_gateway.key(credits=1000)
    with Client(base_url=failing_gateway.base_url, api_key=key.secret) as client:
        yield Live(failing_gateway, key, client)


@pytest.fixture
def png(tmp_path: Path) -> Path:
    path = tmp_path / "reference.png"
    Image.new("RGB", (64, 48), "teal").save(path)
    return path
