"""The asynchronous SDK against a live gateway on loopback: the same surface, awaited."""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from imagine_gateway import (
    AsyncClient,
    Credits,
    Generation,
    InsufficientCreditsError,
    NotFoundError,
    WaitTimeoutError,
)
from tests.conftest import Gateway, Key
from tests.matchers import REQUEST_ID


@pytest.fixture
def key(shared_gateway: Gateway) -> Key:
    return shared_gateway.key(credits=1000)


@pytest.fixture
async def client(shared_gateway: Gateway, key: Key) -> AsyncIterator[AsyncClient]:
    async with AsyncClient(base_url=shared_gateway.base_url, api_key=key.secret) as client:
        yield client


async def test_create_wait_with_an_async_callback_and_download(client: AsyncClient, tmp_path: Path) -> None:
    created = await client.generations.create(
        "grok-imagine-video-1.5-preview", "Waves", params={"duration": 2}
    )
    seen: list[str] = []

    async def on_progress(generation: Generation) -> None:
        seen.append(generation.status)

    done = await client.generations.wait(created.id, on_progress=on_progress, timeout_s=30)
    # 2 s at 480p, 16 credits a second.
    assert (done.status, done.final_credits, seen[-1]) == ("succeeded", 32, "succeeded")
    path = await client.generations.download(created.id, tmp_path / "waves.mp4")
    assert done.result is not None
    assert hashlib.sha256(path.read_bytes()).hexdigest() == done.result.media[0].sha256


async def test_wait_by_polling_reaches_the_same_end(client: AsyncClient) -> None:
    created = await client.generations.create("grok-imagine", "A fox")
    done = await client.generations.wait(created.id, use_events=False, timeout_s=30)
    assert (done.id, done.status, done.progress) == (created.id, "succeeded", 100)


async def test_list_is_an_async_iterator_over_every_page(client: AsyncClient) -> None:
    ids = [(await client.generations.create("grok-imagine", f"Card {i}")).id for i in range(3)]
    assert [g.id async for g in client.generations.list(page_size=1)] == ids[::-1]
    assert [g.id async for g in client.generations.list(status="failed")] == []


@pytest.fixture
def slow_key(slow_gateway: Gateway) -> Key:
    return slow_gateway.key(credits=50)


@pytest.fixture
def poor_key(shared_gateway: Gateway) -> Key:
    return shared_gateway.key(credits=0)


async def test_cancel_and_credits(slow_gateway: Gateway, slow_key: Key) -> None:
    key = slow_key
    async with AsyncClient(base_url=slow_gateway.base_url, api_key=key.secret) as client:
        created = await client.generations.create("grok-imagine-video", "Slow clouds")
        canceled = await client.generations.cancel(created.id)
        assert (canceled.status, await client.credits.retrieve()) == (
            "canceled",
            Credits(account_id=key.account_id, balance=50, reserved=0, available=50),
        )
        other = await client.generations.create("grok-imagine", "Slow too")
        with pytest.raises(WaitTimeoutError) as timed_out:
            await client.generations.wait(other.id, timeout_s=0.3)
        assert timed_out.value.generation.id == other.id


async def test_errors_are_the_same_exceptions_as_the_sync_client(
    client: AsyncClient, shared_gateway: Gateway, poor_key: Key
) -> None:
    with pytest.raises(NotFoundError) as missing:
        await client.generations.retrieve("task_doesnotexist0000000")
    assert (missing.value.code, missing.value.request_id) == ("not_found", REQUEST_ID)
    async with AsyncClient(base_url=shared_gateway.base_url, api_key=poor_key.secret) as broke:
        with pytest.raises(InsufficientCreditsError):
            await broke.generations.create("grok-imagine", "No money")


async def test_files_upload(client: AsyncClient, png: Path) -> None:
    size = png.stat().st_size  # noqa: ASYNC240 (a test's own fixture file)
    uploaded = await client.files.upload(png)
    assert (uploaded.kind, uploaded.mime_type, uploaded.size_bytes) == (
        "image",
        "image/png",
        size,
    )
    assert (await client.files.retrieve(uploaded.id)).sha256 == uploaded.sha256


async def test_a_closed_async_client_refuses_to_send(shared_gateway: Gateway) -> None:
    client = AsyncClient(base_url=shared_gateway.base_url)
    await client.close()
    with pytest.raises(RuntimeError, match="closed"):
        await client.models.list()
