"""Task events across processes: published on Redis, delivered to local subscribers.

API processes serving SSE streams receive the events of tasks that workers in other processes
advance. Redis carries only what may be lost: a missed event costs an SSE stream one re-read.
Access changes (a key revoked...) go on a channel of their own; one that is lost is covered by the
bound on how long a process trusts a key it checked (``IMAGINE_KEY_CACHE_S``).

When the connection to Redis is lost (Redis restarted, a network blip), the listener subscribes
again, waiting from 0.1 s up to 5 s between tries; until then SSE streams fall back to their
periodic re-read. Whatever was announced meanwhile is lost, so once subscribed again the process
forgets every key it checked, as if each had changed, and reads them afresh. A publish that meets a
connection the restarted server closed is sent once more on a new one.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import Awaitable, Callable

import redis.asyncio as aioredis

from imagine_gateway.delivery.events import AccessChanged, MemoryEventBus, TaskEvent

log = logging.getLogger("imagine_gateway.events")
RETRY_FIRST_S = 0.1
RETRY_MAX_S = 5.0
CONNECT_TIMEOUT_S = 1.0
CHANNEL = "imagine:task-events"
ACCESS_CHANNEL = "imagine:access-changes"


class RedisEventBus(MemoryEventBus):
    """Publishes to one Redis channel; a listener feeds this process's subscribers."""

    def __init__(self, url: str) -> None:
        super().__init__()
        # Connecting waits a bounded time, so a publish to a Redis that is gone costs at most that.
        self._redis = aioredis.from_url(url, socket_connect_timeout=CONNECT_TIMEOUT_S)
        self._listener: asyncio.Task[None] | None = None
        self.resubscribed = 0  # times the listener subscribed again after losing Redis

    async def start(self) -> None:
        """Subscribe (raises when Redis does not answer), then listen until closed."""
        pubsub = await self._subscribe()
        self._listener = asyncio.create_task(self._keep_listening(pubsub))

    async def _subscribe(self) -> aioredis.client.PubSub:
        pubsub = self._redis.pubsub()
        try:
            await pubsub.subscribe(CHANNEL, ACCESS_CHANNEL)
        except BaseException:
            await _close_quietly(pubsub)
            raise
        return pubsub

    async def _keep_listening(self, pubsub: aioredis.client.PubSub) -> None:
        while True:
            try:
                await self._listen(pubsub)
            except (aioredis.RedisError, OSError) as exc:
                log.warning("lost the Redis event channel (%s); subscribing again", exc)
            pubsub = await self._subscribe_again()

    async def _subscribe_again(self) -> aioredis.client.PubSub:
        wait_s = RETRY_FIRST_S
        while True:
            await asyncio.sleep(wait_s)
            try:
                pubsub = await self._subscribe()
            except (aioredis.RedisError, OSError):
                wait_s = min(wait_s * 2, RETRY_MAX_S)
                continue
            self.resubscribed += 1
            log.warning("subscribed to the Redis event channel again")
            self.deliver_access(AccessChanged())  # what was announced meanwhile is lost: forget all
            return pubsub

    async def ping(self) -> None:
        """Raise unless Redis answers."""
        await self._redis.ping()

    async def publish(self, event: TaskEvent) -> None:
        payload = json.dumps({"type": event.type, "task_id": event.task_id, "account_id": event.account_id})
        try:
            await self._publish(CHANNEL, payload)
        except aioredis.RedisError:
            log.warning("could not publish %s for %s; delivering locally only", event.type, event.task_id)
            self.deliver(event)

    async def announce(self, change: AccessChanged) -> None:
        # Here at once, whatever Redis does; the other processes through the channel.
        self.deliver_access(change)
        payload = json.dumps({"key_id": change.key_id, "account_id": change.account_id})
        try:
            await self._publish(ACCESS_CHANNEL, payload)
        except aioredis.RedisError:
            log.warning("could not announce %s; other processes see it within the key cache bound", change)

    async def _publish(self, channel: str, payload: str) -> None:
        try:
            await self._redis.publish(channel, payload)
        except aioredis.ConnectionError:
            # After Redis restarted, the pool's connection is one the server closed; the client
            # does not try again by itself, and a new connection usually works.
            await self._redis.publish(channel, payload)

    async def _listen(self, pubsub: aioredis.client.PubSub) -> None:
        try:
            async for message in pubsub.listen():
                if message.get("type") != "message":
                    continue
                try:
                    self._received(message)
                except (ValueError, KeyError, TypeError):  # not one of ours: the channel carries on
                    log.warning("ignored a message on the Redis event channel that is not an event")
        finally:
            await _close_quietly(pubsub)

    def _received(self, message: dict[str, object]) -> None:
        data = json.loads(message["data"])  # type: ignore[arg-type]
        channel = message.get("channel")
        if channel in (ACCESS_CHANNEL, ACCESS_CHANNEL.encode()):
            # This process's own comes back too: forgetting twice is harmless.
            self.deliver_access(AccessChanged(data["key_id"], data["account_id"]))
            return
        self.deliver(TaskEvent(data["type"], data["task_id"], data["account_id"]))

    async def aclose(self) -> None:
        if self._listener is not None:
            self._listener.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._listener
        await self._redis.aclose()
        await super().aclose()


async def _close_quietly(pubsub: aioredis.client.PubSub) -> None:
    # redis-py annotates aclose() only from 8.x on; taking it as a typed callable keeps mypy --strict
    # clean on every release the dependency range admits.
    close: Callable[[], Awaitable[None]] = pubsub.aclose
    with contextlib.suppress(Exception):
        await close()
