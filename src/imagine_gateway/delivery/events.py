"""Task events: published after each committed change a client may care about.

In-memory fan-out for the embedded default; the scale-out mode publishes through Redis so SSE
streams on any API process see workers' events.

The same bus carries ``AccessChanged`` notices: an API key or an account changed in a way that
authentication must see (revoked, new scopes or limits, account disabled), so that every process
drops what it remembered of them at once.
"""

from __future__ import annotations

import asyncio
import logging
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

log = logging.getLogger("imagine_gateway.events")


@dataclass(frozen=True)
class TaskEvent:
    # generation.processing | .progress | .succeeded | .failed | .canceled
    type: str
    task_id: str
    account_id: str


@dataclass(frozen=True)
class AccessChanged:
    """An API key (``key_id``) or every key of an account (``account_id``) must be checked afresh."""

    key_id: str | None = None
    account_id: str | None = None


AccessListener = Callable[[AccessChanged], None]


# Not a task's event: the process is stopping, and every watch ends now (with a last read).
STOPPING = "gateway.stopping"


class EventBus(Protocol):
    async def publish(self, event: TaskEvent) -> None: ...

    def subscribe(self, task_id: str) -> asyncio.Queue[TaskEvent]: ...

    def unsubscribe(self, task_id: str, queue: asyncio.Queue[TaskEvent]) -> None: ...

    def end_streams(self) -> None:
        """Tell every watcher, now and from now on, that the process is stopping."""
        ...

    async def announce(self, change: AccessChanged) -> None:
        """Tell every process's access listeners (this one's first, at once) about ``change``."""
        ...

    def on_access_change(self, listener: AccessListener) -> None:
        """Call ``listener`` with every ``AccessChanged`` announced, here or (Redis) elsewhere."""
        ...

    async def aclose(self) -> None: ...


class MemoryEventBus:
    """Fan-out inside one process."""

    def __init__(self) -> None:
        self._subs: dict[str, set[asyncio.Queue[TaskEvent]]] = defaultdict(set)
        self._ending = False
        self._access_listeners: list[AccessListener] = []

    async def publish(self, event: TaskEvent) -> None:
        self.deliver(event)

    def deliver(self, event: TaskEvent) -> None:
        for queue in list(self._subs.get(event.task_id, ())):
            if queue.qsize() < 100:
                queue.put_nowait(event)

    async def announce(self, change: AccessChanged) -> None:
        self.deliver_access(change)

    def on_access_change(self, listener: AccessListener) -> None:
        self._access_listeners.append(listener)

    def deliver_access(self, change: AccessChanged) -> None:
        for listener in list(self._access_listeners):
            try:
                listener(change)
            except Exception:  # one listener's failure must not keep the others from forgetting
                log.exception("access listener failed on %s", change)

    def subscribe(self, task_id: str) -> asyncio.Queue[TaskEvent]:
        queue: asyncio.Queue[TaskEvent] = asyncio.Queue()
        self._subs[task_id].add(queue)
        if self._ending:
            queue.put_nowait(TaskEvent(STOPPING, task_id, ""))
        return queue

    def unsubscribe(self, task_id: str, queue: asyncio.Queue[TaskEvent]) -> None:
        subs = self._subs.get(task_id)
        if subs is not None:
            subs.discard(queue)
            if not subs:
                del self._subs[task_id]

    def end_streams(self) -> None:
        self._ending = True
        for task_id, queues in list(self._subs.items()):
            for queue in list(queues):
                queue.put_nowait(TaskEvent(STOPPING, task_id, ""))  # past the bound: it must arrive

    async def aclose(self) -> None:
        self._subs.clear()
