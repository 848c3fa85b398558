"""``generations.run`` and ``wait``: one call to a finished task, a typed error carrying a failed one."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from imagine_gateway import (
    AsyncClient,
    Credits,
    Generation,
    GenerationError,
    GenerationFailedError,
    ImagineError,
)
from tests.client.conftest import Live
from tests.conftest import Gateway, Key

SANDBOX_FAILURE = GenerationError(
    code="generation_failed",
    message="The sandbox engine simulated a failure (IMAGINE_SANDBOX_FAILURE_RATE).",
)
CANCELED = GenerationError(code="canceled", message="The task was canceled by the client.")


def test_run_creates_waits_and_returns_the_succeeded_task(live: Live, tmp_path: Path) -> None:
    seen: list[str] = []
    done = live.client.generations.run(
        "grok-imagine",
        "A lighthouse at dusk",
        params={"aspect_ratio": "16:9"},
        client_request_id="run-1",
        on_progress=lambda g: seen.append(g.status),
    )
    assert done == live.client.generations.retrieve(done.id)
    assert (done.status, done.progress, done.params["aspect_ratio"], done.client_request_id) == (
        "succeeded",
        100,
        "16:9",
        "run-1",
    )
    assert seen[-1] == "succeeded"
    assert [g.id for g in live.client.generations.list()] == [done.id]
    path = live.client.generations.download(done, tmp_path)  # the task itself, not only its id
    assert path == tmp_path / f"{done.id}.png"


def test_run_raises_generation_failed_error_carrying_the_failed_task(failing_live: Live) -> None:
    client = failing_live.client
    with pytest.raises(GenerationFailedError) as caught:
        client.generations.run("grok-imagine", "Doomed")
    failed = caught.value.generation
    assert failed == client.generations.retrieve(failed.id)
    assert (failed.status, failed.error, failed.final_credits) == ("failed", SANDBOX_FAILURE, 0)
    assert (caught.value.code, caught.value.message) == (SANDBOX_FAILURE.code, SANDBOX_FAILURE.message)
    assert str(caught.value) == f"{SANDBOX_FAILURE.code}: {SANDBOX_FAILURE.message}"
    assert isinstance(caught.value, ImagineError)
    assert client.credits.retrieve() == Credits(
        account_id=failing_live.key.account_id, balance=1000, reserved=0, available=1000
    )


@pytest.mark.parametrize("use_events", [True, False], ids=["events", "polling"])
def test_wait_raises_on_a_failed_task_given_its_id(failing_live: Live, use_events: bool) -> None:
    created = failing_live.client.generations.create("grok-imagine", "Doomed")
    with pytest.raises(GenerationFailedError) as caught:
        failing_live.client.generations.wait(created.id, use_events=use_events, timeout_s=30)
    assert (caught.value.generation.id, caught.value.generation.status, caught.value.code) == (
        created.id,
        "failed",
        "generation_failed",
    )


def test_wait_returns_the_failed_task_when_told_not_to_raise(failing_live: Live) -> None:
    created = failing_live.client.generations.create("grok-imagine", "Doomed")
    failed = failing_live.client.generations.wait(created, raise_on_failure=False, timeout_s=30)
    assert failed == failing_live.client.generations.retrieve(created.id)
    assert (failed.id, failed.status, failed.error) == (created.id, "failed", SANDBOX_FAILURE)


def test_wait_given_the_task_object_returns_it_finished(live: Live) -> None:
    created = live.client.generations.create("grok-imagine", "A fox")
    assert isinstance(created, Generation) and created.status == "queued"
    done = live.client.generations.wait(created, timeout_s=30)
    assert (done.id, done.status, done.progress) == (created.id, "succeeded", 100)


def test_wait_raises_on_a_canceled_task_with_its_cancel_error(slow_live: Live) -> None:
    client = slow_live.client
    created = client.generations.create("grok-imagine", "Never mind")
    client.generations.cancel(created.id)
    with pytest.raises(GenerationFailedError) as caught:
        client.generations.wait(created, timeout_s=5)
    assert (caught.value.generation.status, caught.value.generation.error) == ("canceled", CANCELED)
    assert (caught.value.code, caught.value.message) == (CANCELED.code, CANCELED.message)
    canceled = client.generations.wait(created, timeout_s=5, raise_on_failure=False)
    assert (canceled.id, canceled.status) == (created.id, "canceled")


@pytest.fixture
def key(shared_gateway: Gateway) -> Key:
    return shared_gateway.key(credits=1000)


@pytest.fixture
def failing_key(failing_gateway: Gateway) -> Key:
    return failing_gateway.key(credits=1000)


@pytest.fixture
async def async_client(shared_gateway: Gateway, key: Key) -> AsyncIterator[AsyncClient]:
    async with AsyncClient(base_url=shared_gateway.base_url, api_key=key.secret) as client:
        yield client


@pytest.fixture
async def failing_async_client(failing_gateway: Gateway, failing_key: Key) -> AsyncIterator[AsyncClient]:
    async with AsyncClient(base_url=failing_gateway.base_url, api_key=failing_key.secret) as client:
        yield client


async def test_async_run_returns_the_succeeded_task(async_client: AsyncClient) -> None:
    seen: list[str] = []

    async def on_progress(generation: Generation) -> None:
        seen.append(generation.status)

    done = await async_client.generations.run("grok-imagine", "A fox", on_progress=on_progress, timeout_s=30)
    assert done == await async_client.generations.retrieve(done.id)
    assert (done.status, done.progress, seen[-1]) == ("succeeded", 100, "succeeded")


async def test_async_run_raises_generation_failed_error_carrying_the_failed_task(
    failing_async_client: AsyncClient,
) -> None:
    with pytest.raises(GenerationFailedError) as caught:
        await failing_async_client.generations.run("grok-imagine", "Doomed", timeout_s=30)
    failed = caught.value.generation
    assert failed == await failing_async_client.generations.retrieve(failed.id)
    assert (failed.status, failed.error, caught.value.code) == (
        "failed",
        SANDBOX_FAILURE,
        "generation_failed",
    )


async def test_async_wait_given_the_task_object_and_told_not_to_raise(
    failing_async_client: AsyncClient,
) -> None:
    created = await failing_async_client.generations.create("grok-imagine", "Doomed")
    failed = await failing_async_client.generations.wait(created, raise_on_failure=False, timeout_s=30)
    assert (failed.id, failed.status, failed.error) == (created.id, "failed", SANDBOX_FAILURE)
