"""The Redis event channel survives Redis going away: the listener subscribes again once Redis is back.

Each test runs a Redis server of its own (the machine's ``redis-server``, nothing kept on disk) on a
free loopback port, so it can stop it and start it again on the same port, as a restart does.
"""

from __future__ import annotations

import asyncio
import shutil
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import redis
import redis.asyncio

from imagine_gateway.delivery.events import AccessChanged, TaskEvent
from imagine_gateway.delivery.redis_events import CHANNEL, RedisEventBus
from tests.ops.processes import free_port

REDIS_SERVER = shutil.which("redis-server")
pytestmark = pytest.mark.skipif(REDIS_SERVER is None, reason="needs the redis-server program")


class OwnRedis:
    """A redis-server process on one port, which can be stopped and started again."""

    def __init__(self, directory: Path) -> None:
        self.port = free_port()
        self.directory = directory
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        assert REDIS_SERVER is not None
        nothing_on_disk = ["--save", "", "--appendonly", "no"]
        self.proc = subprocess.Popen(
            [REDIS_SERVER, "--port", str(self.port), "--bind", "127.0.0.1", *nothing_on_disk],
            cwd=self.directory,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 10
        while True:
            try:
                redis.Redis.from_url(self.url).ping()
                return
            except redis.ConnectionError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.terminate()
            self.proc.wait(timeout=10)
            self.proc = None


@pytest.fixture
def own_redis(tmp_path: Path) -> Iterator[OwnRedis]:
    server = OwnRedis(tmp_path)
    server.start()
    yield server
    server.stop()


async def _until(check: Callable[[], bool], timeout_s: float) -> None:
    for _ in range(int(timeout_s / 0.05)):  # the listener's own task moves on while this sleeps
        if check():
            return
        await asyncio.sleep(0.05)


def test_after_a_redis_restart_events_from_other_processes_arrive_again_and_checked_keys_are_forgotten(
    own_redis: OwnRedis,
) -> None:
    async def scenario() -> tuple[int, list[AccessChanged], TaskEvent | None, TaskEvent]:
        listening, publishing = RedisEventBus(own_redis.url), RedisEventBus(own_redis.url)
        await listening.start()
        changes: list[AccessChanged] = []
        listening.on_access_change(changes.append)
        queue = listening.subscribe("tsk_after")
        try:
            await publishing.publish(TaskEvent("generation.processing", "tsk_before", "acc_1"))
            own_redis.stop()
            await asyncio.sleep(3)  # longer than the client's own few quick retries
            own_redis.start()
            await _until(lambda: listening.resubscribed > 0, timeout_s=15)
            lost = None if queue.empty() else queue.get_nowait()
            await publishing.publish(TaskEvent("generation.succeeded", "tsk_after", "acc_1"))
            arrived = await asyncio.wait_for(queue.get(), timeout=5)
            return listening.resubscribed, changes, lost, arrived
        finally:
            await listening.aclose()
            await publishing.aclose()

    resubscribed, changes, lost, arrived = asyncio.run(scenario())

    assert resubscribed == 1
    assert changes == [AccessChanged(key_id=None, account_id=None)]  # every checked key, read afresh
    assert lost is None
    assert arrived == TaskEvent("generation.succeeded", "tsk_after", "acc_1")


def test_a_message_on_the_channel_that_is_not_an_event_is_skipped_and_the_next_one_arrives(
    own_redis: OwnRedis,
) -> None:
    async def scenario() -> TaskEvent:
        listening, publishing = RedisEventBus(own_redis.url), RedisEventBus(own_redis.url)
        await listening.start()
        queue = listening.subscribe("tsk_next")
        try:
            other = redis.asyncio.Redis.from_url(own_redis.url)
            await other.publish(CHANNEL, "not json")
            await other.publish(CHANNEL, '{"type": "generation.processing"}')
            await other.aclose()
            await publishing.publish(TaskEvent("generation.processing", "tsk_next", "acc_1"))
            return await asyncio.wait_for(queue.get(), timeout=5)
        finally:
            await listening.aclose()
            await publishing.aclose()

    assert asyncio.run(scenario()) == TaskEvent("generation.processing", "tsk_next", "acc_1")


def test_a_bus_whose_redis_never_answers_fails_to_start(tmp_path: Path) -> None:
    async def scenario() -> None:
        bus = RedisEventBus(f"redis://127.0.0.1:{free_port()}/0")
        try:
            await bus.start()
        finally:
            await bus.aclose()

    with pytest.raises(redis.ConnectionError):
        asyncio.run(scenario())
