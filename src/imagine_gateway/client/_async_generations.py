"""``client.generations`` of the asynchronous client.

The synchronous twin is generated from this file by ``scripts/unasync.py``; write code here that
reads right with ``async``/``await`` taken out.
"""

from __future__ import annotations

import asyncio
import dataclasses
import os
import time
from collections.abc import AsyncIterator, Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx
from httpx_sse import EventSource, SSEError

from imagine_gateway.client import _base
from imagine_gateway.client._base import NOT_GIVEN, Call, NotGiven
from imagine_gateway.client.errors import APIConnectionError, APIStatusError
from imagine_gateway.client.models import Generation, Price

if TYPE_CHECKING:
    from imagine_gateway.client._async import AsyncClient


class AsyncGenerations:
    """``client.generations``: create, run, wait for, list, cancel and download generations."""

    def __init__(self, client: AsyncClient) -> None:
        self._client = client

    async def create(
        self,
        model: str,
        prompt: str,
        *,
        params: Mapping[str, Any] | None = None,
        idempotency_key: str | NotGiven | None = NOT_GIVEN,
        webhook_url: str | None = None,
        client_request_id: str | None = None,
    ) -> Generation:
        """Create a task (HTTP 202). Without ``idempotency_key`` one is generated, so retries of this
        call can never create two tasks; pass ``None`` to send none."""
        call = _base.create_generation_call(
            model=model,
            prompt=prompt,
            params=params,
            idempotency_key=idempotency_key,
            webhook_url=webhook_url,
            client_request_id=client_request_id,
        )
        return Generation.model_validate(await self._client._json(call))

    async def price(
        self,
        model: str,
        prompt: str,
        *,
        params: Mapping[str, Any] | None = None,
        webhook_url: str | None = None,
        client_request_id: str | None = None,
    ) -> Price:
        """What ``create`` with these arguments would reserve, line by line; nothing is created.

        quote = await client.generations.price("grok-imagine-video-1.5", "A fox", params={"duration": 6})
        quote.credits  # 96
        """
        create = _base.create_generation_call(
            model=model,
            prompt=prompt,
            params=params,
            idempotency_key=None,
            webhook_url=webhook_url,
            client_request_id=client_request_id,
        )
        call = dataclasses.replace(create, path="/api/v1/generations/price", replay_safe=True)
        return Price.model_validate(await self._client._json(call))

    async def run(
        self,
        model: str,
        prompt: str,
        *,
        params: Mapping[str, Any] | None = None,
        idempotency_key: str | NotGiven | None = NOT_GIVEN,
        webhook_url: str | None = None,
        client_request_id: str | None = None,
        timeout_s: float | None = 600.0,
        on_progress: Callable[[Generation], Any] | None = None,
        use_events: bool = True,
    ) -> Generation:
        """Create a task, wait for it to end and return it succeeded.

            done = await client.generations.run("grok-imagine", "A lighthouse at dusk")

        Raises ``GenerationFailedError`` (with the ended ``generation``) when it fails or is canceled,
        and ``WaitTimeoutError`` after ``timeout_s`` (the task itself goes on). The other arguments are
        those of ``create`` and ``wait``.
        """
        created = await self.create(
            model,
            prompt,
            params=params,
            idempotency_key=idempotency_key,
            webhook_url=webhook_url,
            client_request_id=client_request_id,
        )
        return await self.wait(created, timeout_s=timeout_s, on_progress=on_progress, use_events=use_events)

    async def retrieve(self, generation_id: str) -> Generation:
        return Generation.model_validate(await self._client._json(_base.generation_call(generation_id)))

    def list(
        self, *, status: str | None = None, model: str | None = None, page_size: int | None = None
    ) -> AsyncIterator[Generation]:
        """Newest first, across all pages (fetched as the iteration reaches them)."""
        params = {"status": status, "model": model, "limit": page_size}
        return self._client._paginate("/api/v1/generations", params, Generation)

    async def cancel(self, generation_id: str) -> Generation:
        """Cancel a queued or processing task; its credits are released."""
        call = _base.generation_call(generation_id, "cancel")
        return Generation.model_validate(await self._client._json(call))

    async def wait(
        self,
        generation: Generation | str,
        *,
        timeout_s: float | None = 600.0,
        on_progress: Callable[[Generation], Any] | None = None,
        use_events: bool = True,
        raise_on_failure: bool = True,
    ) -> Generation:
        """Wait until the task (a ``Generation`` or its id) ends and return it.

        Follows the server-sent event stream; polls with backoff if the stream is unavailable or
        drops. ``on_progress`` is called on every change of status or progress (the async client
        awaits a coroutine function). Raises ``GenerationFailedError`` when the task fails or is
        canceled, unless ``raise_on_failure=False`` (then the ended task is returned whatever its
        status), and ``WaitTimeoutError`` after ``timeout_s`` (the task itself goes on).
        """
        generation_id = _base.generation_id_of(generation)
        deadline = None if timeout_s is None else time.monotonic() + timeout_s
        tracker = _base.ProgressTracker(on_progress)
        current = await self.retrieve(generation_id)
        await tracker.anotify(current)
        if current.is_terminal:
            return _base.ended(current, raise_on_failure)
        if use_events:
            streamed = await self._follow_events(generation_id, deadline, tracker)
            if streamed is not None:
                return _base.ended(streamed, raise_on_failure)
        polls = 0
        while True:
            left = _base.remaining_s(deadline)
            if left is not None and left <= 0:
                assert tracker.last is not None
                raise _base.timed_out(generation_id, timeout_s, tracker.last)
            delay = _base.poll_delay_s(polls)
            await asyncio.sleep(delay if left is None else min(delay, left))
            polls += 1
            current = await self.retrieve(generation_id)
            await tracker.anotify(current)
            if current.is_terminal:
                return _base.ended(current, raise_on_failure)

    async def _follow_events(
        self, generation_id: str, deadline: float | None, tracker: _base.ProgressTracker
    ) -> Generation | None:
        """The ended task from the event stream; None to fall back to polling."""
        try:
            response = await self._client._send(
                _base.events_call(generation_id, _base.remaining_s(deadline)), stream=True
            )
        except (APIConnectionError, APIStatusError):
            return None
        # Keep-alive comments never reach the loop below, so the deadline is checked as each chunk
        # arrives, by reading the stream through a response that ends there.
        bounded = httpx.Response(
            response.status_code, headers=response.headers, content=_until(deadline, response)
        )
        try:
            async for event in EventSource(bounded).aiter_sse():
                if event.event == "generation":
                    generation = Generation.model_validate_json(event.data)
                    await tracker.anotify(generation)
                    if generation.is_terminal:
                        return generation
        except (httpx.TransportError, SSEError):
            # A read timeout, a dropped stream or an answer that is not an event stream: polling
            # takes over (and checks the deadline).
            pass
        finally:
            await response.aclose()
        return None

    async def download(
        self, generation: Generation | str, path: str | os.PathLike[str] = ".", *, index: int = 0
    ) -> Path:
        """Save result ``index`` of a succeeded task (a ``Generation`` or its id) to ``path`` (a file,
        or a directory to put it in). The task is read again, so its media URLs are fresh."""
        current = await self.retrieve(_base.generation_id_of(generation))
        url, suffix = _base.download_source(current, index)
        target = _base.download_target(path, current, index, suffix)
        partial = _base.partial_path(target)
        call = Call("GET", url, replay_safe=True, authenticated=False)
        response = await self._client._send(call, stream=True)
        try:
            # Not handed to a thread: local disk writes are short, and a thread per chunk would cost
            # more than it saves.
            with partial.open("wb") as out:
                async for chunk in response.aiter_bytes():
                    out.write(chunk)
        except BaseException:
            partial.unlink(missing_ok=True)
            raise
        finally:
            await response.aclose()
        partial.replace(target)
        return target


async def _until(deadline: float | None, response: httpx.Response) -> AsyncIterator[bytes]:
    """The response's bytes as they arrive, ending with the first chunk read past ``deadline``."""
    async for chunk in response.aiter_raw():
        yield chunk
        left = _base.remaining_s(deadline)
        if left is not None and left <= 0:
            return
