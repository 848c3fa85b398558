"""Automatic retries, proven over real HTTP: a flaky proxy in front of a live gateway."""

from __future__ import annotations

import socket
import time
from collections.abc import Callable, Iterator

import pytest

from imagine_gateway import (
    APIConnectionError,
    APITimeoutError,
    AsyncClient,
    Client,
    InternalServerError,
)
from imagine_gateway.testing.loopback import LoopbackServer
from tests.client.flaky_proxy import FlakyProxy
from tests.conftest import Gateway, Key

CREATE = ("POST", "/api/v1/generations")
CREDITS = ("GET", "/api/v1/credits")


@pytest.fixture
def key(shared_gateway: Gateway) -> Key:
    return shared_gateway.key(credits=100)


@pytest.fixture
def proxy(shared_gateway: Gateway) -> Iterator[Callable[..., tuple[FlakyProxy, str]]]:
    """``proxy(("POST", path), ["503"])`` -> (the proxy, its base URL)."""
    servers: list[LoopbackServer] = []

    def start(route: tuple[str, str], script: list[str]) -> tuple[FlakyProxy, str]:
        flaky = FlakyProxy(shared_gateway.base_url, route[0], route[1], list(script))
        server = LoopbackServer(flaky.app()).start()
        servers.append(server)
        return flaky, server.base_url

    yield start
    for server in servers:
        server.stop()


def tasks_of(gateway: Gateway, key: Key) -> list[str]:
    body = gateway.http.get("/api/v1/generations", headers=key.headers).json()
    return [t["id"] for t in body["data"]]


def test_a_create_answered_503_is_resent_with_the_same_key_and_makes_one_task(
    shared_gateway: Gateway, key: Key, proxy: Callable[..., tuple[FlakyProxy, str]]
) -> None:
    flaky, url = proxy(CREATE, ["503"])
    with Client(base_url=url, api_key=key.secret) as client:
        task = client.generations.create("grok-imagine", "Retry me")
    assert tasks_of(shared_gateway, key) == [task.id]
    keys = [h["idempotency-key"] for h in flaky.seen]
    assert len(keys) == 2 and keys[0] == keys[1] and keys[0].startswith("sdk-")


def test_a_create_whose_answer_was_lost_after_the_gateway_acted_is_replayed_not_repeated(
    shared_gateway: Gateway, key: Key, proxy: Callable[..., tuple[FlakyProxy, str]]
) -> None:
    flaky, url = proxy(CREATE, ["503-after", "503-after"])
    with Client(base_url=url, api_key=key.secret) as client:
        task = client.generations.create("grok-imagine", "Lost answers")
    assert tasks_of(shared_gateway, key) == [task.id]
    assert len({h["idempotency-key"] for h in flaky.seen}) == 1 and len(flaky.seen) == 3


async def test_the_async_client_retries_the_same_way(
    shared_gateway: Gateway, key: Key, proxy: Callable[..., tuple[FlakyProxy, str]]
) -> None:
    flaky, url = proxy(CREATE, ["503-after"])
    async with AsyncClient(base_url=url, api_key=key.secret) as client:
        task = await client.generations.create("grok-imagine", "Async retry")
    assert tasks_of(shared_gateway, key) == [task.id]
    assert [h["idempotency-key"] for h in flaky.seen] == [flaky.seen[0]["idempotency-key"]] * 2


def test_429_waits_for_retry_after_before_resending(
    key: Key, proxy: Callable[..., tuple[FlakyProxy, str]]
) -> None:
    flaky, url = proxy(CREDITS, ["429"])
    started = time.monotonic()
    with Client(base_url=url, api_key=key.secret) as client:
        credits = client.credits.retrieve()
    assert time.monotonic() - started >= 1.0
    assert (credits.balance, len(flaky.seen)) == (100, 2)


def test_a_create_sent_without_an_idempotency_key_is_not_resent_after_503(
    shared_gateway: Gateway, key: Key, proxy: Callable[..., tuple[FlakyProxy, str]]
) -> None:
    flaky, url = proxy(CREATE, ["503"])
    with Client(base_url=url, api_key=key.secret) as client, pytest.raises(InternalServerError) as caught:
        client.generations.create("grok-imagine", "No key", idempotency_key=None)
    assert (caught.value.code, caught.value.status_code, caught.value.request_id) == (
        "upstream_unavailable",
        503,
        "req_proxy",
    )
    assert (len(flaky.seen), "idempotency-key" in flaky.seen[0], tasks_of(shared_gateway, key)) == (
        1,
        False,
        [],
    )


def test_retries_stop_after_max_retries(key: Key, proxy: Callable[..., tuple[FlakyProxy, str]]) -> None:
    flaky, url = proxy(CREDITS, ["503", "503", "503"])
    with (
        Client(base_url=url, api_key=key.secret, max_retries=1) as client,
        pytest.raises(InternalServerError),
    ):
        client.credits.retrieve()
    assert len(flaky.seen) == 2


def test_a_refused_connection_is_retried_then_raised_as_a_connection_error() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    started = time.monotonic()
    with (
        Client(base_url=f"http://127.0.0.1:{port}", max_retries=1) as client,
        pytest.raises(APIConnectionError) as caught,
    ):
        client.models.list()
    assert type(caught.value) is APIConnectionError
    assert time.monotonic() - started >= 0.3  # one backoff pause before the second try


def test_a_slow_answer_raises_a_timeout_error(key: Key, proxy: Callable[..., tuple[FlakyProxy, str]]) -> None:
    _, url = proxy(CREDITS, ["slow"])
    with (
        Client(base_url=url, api_key=key.secret, timeout=0.3, max_retries=0) as client,
        pytest.raises(APITimeoutError),
    ):
        client.credits.retrieve()
