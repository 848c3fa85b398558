"""Task events across processes: published on Redis, delivered to local subscribers.

API processes serving SSE streams receive the events of tasks that workers in other processes
advance. Redis carries only what may be lost: a missed event costs an SSE stream one re-read.
Access changes (a key revoked...) go on a channel of their own; one that is lost is covered by the
bound on how long a process trusts a key it checked (``IMAGINE_KEY_CACHE_S``).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging

import redis.asyncio as aioredis

from imagine_gateway.delivery.events import AccessChanged, MemoryEventBus, TaskEvent

log = logging.getLogger("imagine_gateway.events")
CHANNEL = "imagine:task-events"
ACCESS_CHANNEL = "imagine:access-changes"


class RedisEventBus(MemoryEventBus):
    """Publishes to one Redis channel; a listener feeds this process's subscribers."""

    def __init__(self, url: str) -> None:
        super().__init__()
        self._redis = aioredis.from_url(url)
        self._listener: asyncio.Task[None] | None = None

    async def start(self) -> None:
        pubsub = self._redis.pubsub()
        await pubsub.subscribe(CHANNEL, ACCESS_CHANNEL)
        self._listener = asyncio.create_task(self._listen(pubsub))

    async def ping(self) -> None:
        """Raise unless Redis answers."""
        await self._redis.ping()

    async def publish(self, event: TaskEvent) -> None:
        payload = json.dumps({"type": event.type, "task_id": event.task_id, "account_id": event.account_id})
        try:
            await self._redis.publish(CHANNEL, payload)
        except aioredis.RedisError:
            log.warning("could not publish %s for %s; delivering locally only", event.type, event.task_id)
            self.deliver(event)

    async def announce(self, change: AccessChanged) -> None:
        # Here at once, whatever Redis does; the other processes through the channel.
        self.deliver_access(change)
        payload = json.dumps({"key_id": change.key_id, "account_id": change.account_id})
        try:
            await self._redis.publish(ACCESS_CHANNEL, payload)
        except aioredis.RedisError:
            log.warning("could not announce %s; other processes see it within the key cache bound", change)

    async def _listen(self, pubsub: aioredis.client.PubSub) -> None:
        try:
            async for message in pubsub.listen():
                if message.get("type") != "message":
                    continue
                data = json.loads(message["data"])
                channel = message.get("channel")
                if channel in (ACCESS_CHANNEL, ACCESS_CHANNEL.encode()):
                    # This process's own comes back too: forgetting twice is harmless.
                    self.deliver_access(AccessChanged(data["key_id"], data["account_id"]))
                    continue
                self.deliver(TaskEvent(data["type"], data["task_id"], data["account_id"]))
        finally:
            with contextlib.suppress(Exception):
                await pubsub.aclose()  # type: ignore[no-untyped-call]

    async def aclose(self) -> None:
        if self._listener is not None:
            self._listener.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._listener
        await self._redis.aclose()
        await super().aclose()
