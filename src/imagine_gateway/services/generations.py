"""Creating, reading, listing and cancelling generation tasks (shared by every dialect)."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
from collections.abc import AsyncGenerator, Sequence
from dataclasses import dataclass
from typing import Any

from imagine_gateway.catalog.loader import Catalog
from imagine_gateway.catalog.prices import quote
from imagine_gateway.catalog.validation import GenerationRequest
from imagine_gateway.core.clock import Clock
from imagine_gateway.core.errors import (
    FieldError,
    IdempotencyConflict,
    InsufficientCredits,
    KeyBudgetExceeded,
    ModelNotAllowed,
    NotFound,
    TaskStateConflict,
    invalid,
)
from imagine_gateway.core.ids import new_task_id
from imagine_gateway.core.pricing import Quote
from imagine_gateway.core.records import Task
from imagine_gateway.core.states import internal_states_for
from imagine_gateway.core.transitions import Canceled, open_task, transition
from imagine_gateway.delivery.events import STOPPING, EventBus, TaskEvent
from imagine_gateway.delivery.webhook_urls import check_webhook_url
from imagine_gateway.providers.router import Router
from imagine_gateway.services.billing import policy_charge
from imagine_gateway.services.pagination import Page, page_of, read_cursor
from imagine_gateway.services.principal import Principal
from imagine_gateway.services.references import ReferenceResolver
from imagine_gateway.settings import Settings
from imagine_gateway.store import idempotency
from imagine_gateway.store import tasks as task_store
from imagine_gateway.store.db import Database
from imagine_gateway.store.postings import Postings
from imagine_gateway.telemetry.tasks import task_changed, task_created

IDEMPOTENCY_KEY_MAX = 255


@dataclass(frozen=True)
class Created:
    task: Task
    replayed: bool


@dataclass(frozen=True)
class Snapshot:
    """One read of a watched task; ``quiet`` when no event came for it within the poll interval,
    ``stopping`` for the last one of a watch the process ends because it is shutting down."""

    task: Task
    quiet: bool = False
    stopping: bool = False


def fingerprint(request: GenerationRequest) -> str:
    """What makes two creates 'the same request' for idempotency (normalised, so 6 == "6")."""
    canonical = {
        "model": request.model.id,
        "prompt": request.prompt,
        "params": request.public_params(),
        "client_request_id": request.client_request_id,
        "webhook_url": request.webhook_url,
    }
    return hashlib.sha256(json.dumps(canonical, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


class GenerationService:
    def __init__(
        self,
        *,
        db: Database,
        catalog: Catalog,
        clock: Clock,
        settings: Settings,
        router: Router,
        references: ReferenceResolver,
        events: EventBus,
    ) -> None:
        self.db = db
        self.catalog = catalog
        self.clock = clock
        self.settings = settings
        self.router = router
        self.references = references
        self.events = events

    async def create(
        self,
        principal: Principal,
        request: GenerationRequest,
        *,
        idempotency_key: str | None = None,
        dialect: str = "native",
    ) -> Created:
        """Reserve credits and insert the task in one transaction; replay on a known key."""
        created = await self.create_many(
            principal, request, idempotency_keys=[idempotency_key], dialect=dialect
        )
        return created[0]

    async def create_many(
        self,
        principal: Principal,
        request: GenerationRequest,
        *,
        idempotency_keys: Sequence[str | None],
        dialect: str = "native",
    ) -> list[Created]:
        """One task per key (``None``: no key), all in one transaction: every one or none.

        The reservations are made together, so a balance that covers fewer than all of them is an
        ``insufficient_credits`` that creates and charges nothing. A known key replays its task.
        """
        if principal.models is not None and request.model.id not in principal.models:
            raise ModelNotAllowed(
                f"This API key may not use the model '{request.model.id}'.",
                [FieldError("model", "not in the API key's allowlist", sorted(principal.models))],
            )
        for key in idempotency_keys:
            if key is not None and not (0 < len(key) <= IDEMPOTENCY_KEY_MAX):
                raise invalid("Idempotency-Key", f"must be 1 to {IDEMPOTENCY_KEY_MAX} characters")
        price = (await self.price(principal, request)).credits
        digest = fingerprint(request)
        now = self.clock.now_ms()

        async def create_all(conn: Any, postings: Postings) -> list[Created]:
            # Statements only, so it may run again alone when the group it was in is rolled back.
            return [
                await self._create_one(conn, postings, principal, request, key, price, digest, dialect, now)
                for key in idempotency_keys
            ]

        try:
            created = await self.db.grouped(create_all)
            for made in created:  # counted once committed
                if not made.replayed:
                    task_created(made.task, dialect=dialect)
        except InsufficientCredits as exc:
            count = len(idempotency_keys)
            if count == 1:
                raise
            raise InsufficientCredits(
                f"These {count} tasks need {count * price} credits together and the account's balance "
                "does not cover them all; none was created."
            ) from exc
        except KeyBudgetExceeded as exc:
            count = len(idempotency_keys)
            if count == 1:
                raise
            raise KeyBudgetExceeded(
                f"These {count} tasks need {count * price} credits together, more than the API key's "
                "spend caps leave; none was created."
            ) from exc
        return created

    async def price(self, principal: Principal, request: GenerationRequest) -> Quote:
        """What a create of ``request`` would reserve, after the same checks; creates nothing."""
        if request.webhook_url is not None:
            await check_webhook_url(
                request.webhook_url,
                allow_private=self.settings.webhook_allow_private,
                field_name="webhook_url",
            )
        # With the reference files, so a provider can tell the mode (reference-to-video, an edit...).
        self.router.check(request.model, request.public_params())
        await self.references.check(principal.account_id, request.model, request.references)
        return quote(request.model, request.public_params())

    async def _create_one(
        self,
        conn: Any,
        postings: Postings,
        principal: Principal,
        request: GenerationRequest,
        idempotency_key: str | None,
        price: int,
        digest: str,
        dialect: str,
        now: int,
    ) -> Created:
        new = open_task(
            task_id=new_task_id(now),
            account_id=principal.account_id,
            api_key_id=principal.api_key_id,
            model=request.model.id,
            prompt=request.prompt,
            params=request.public_params(),
            client_request_id=request.client_request_id,
            dialect=dialect,
            webhook_url=request.webhook_url,
            price=price,
            deadline_ms=int(self.settings.task_deadline_s * 1000),
            now_ms=now,
        )
        # Its reservation is posted with the transaction's others: insufficient_credits (or a cap)
        # then rolls the whole transaction back, and nothing is created.
        if idempotency_key is not None:
            ttl_ms = int(self.settings.idempotency_retention_s * 1000)
            if await idempotency.claim_with_task(
                conn, new, postings, idempotency_key, fingerprint=digest, ttl_ms=ttl_ms
            ):
                return Created(task=new.task, replayed=False)
            existing = await idempotency.lookup(conn, principal.account_id, idempotency_key, now_ms=now)
            if existing is not None:
                return await self._replay(conn, principal, existing, digest)
        task = await task_store.insert_task(conn, new, postings)
        return Created(task=task, replayed=False)

    async def _replay(
        self, conn: Any, principal: Principal, existing: idempotency.IdempotencyRecord, digest: str
    ) -> Created:
        if existing.fingerprint != digest:
            raise IdempotencyConflict("This Idempotency-Key was already used with a different request body.")
        task = await task_store.get_task(conn, existing.task_id, account_id=principal.account_id)
        if task is None:  # pragma: no cover - the key and its task are written together
            raise NotFound("The task of this Idempotency-Key no longer exists.")
        return Created(task=task, replayed=True)

    async def get(self, principal: Principal, task_id: str) -> Task:
        task = await task_store.find_task(self.db, task_id, account_id=principal.account_id)
        if task is None:
            raise NotFound(f"Task {task_id} was not found.")
        return task

    async def list(
        self,
        principal: Principal,
        *,
        status: str | None = None,
        model: str | None = None,
        cursor: str | None = None,
        limit: int = 20,
        dialect: str | None = None,
        newest_first: bool = True,
    ) -> Page[Task]:
        """Newest first, keyset-paginated; the cursor is opaque to clients."""
        states = None
        if status is not None:
            states = [s.value for s in internal_states_for(status)]
            if not states:
                raise invalid(
                    "status",
                    f"unknown status '{status}'",
                    ["queued", "processing", "succeeded", "failed", "canceled"],
                )
        if model is not None and self.catalog.get(model) is None:
            raise invalid("model", f"unknown model '{model}'", self.catalog.ids)
        position = read_cursor(cursor)
        rows = await task_store.find_tasks_page(
            self.db,
            account_id=principal.account_id,
            states=states,
            model=model,
            before=position if newest_first else None,
            after=None if newest_first else position,
            dialect=dialect,
            limit=limit + 1,
            newest_first=newest_first,
        )
        return page_of(rows, limit)

    async def cancel(self, principal: Principal, task_id: str) -> Task:
        """queued/processing -> canceled, credits released (once); the worker's late writes lose."""
        now = self.clock.now_ms()
        async with self.db.write() as conn:
            task = await task_store.get_task(conn, task_id, account_id=principal.account_id)
            if task is None:
                raise NotFound(f"Task {task_id} was not found.")
            # Refused (task_state_conflict) once the task has ended; charged as the policy says
            # once it was sent upstream (a queued task is refunded in full).
            engine = self.router.get(task.provider) if task.provider else None
            charge = policy_charge(self.settings, self.catalog, task, "cancel_after_submit", provider=engine)
            update = transition(task, Canceled(charge), now)
            if not await task_store.apply(conn, update):  # pragma: no cover - guarded by the write lock
                raise TaskStateConflict(f"Task {task_id} changed state; try again.")
            final = await task_store.get_task(conn, task_id)
        assert final is not None
        task_changed(update)
        if task.provider and task.upstream_id:
            provider = self.router.get(task.provider)
            if provider is not None:
                # Best effort: the credits are already released whatever the upstream says.
                with contextlib.suppress(Exception):
                    await provider.cancel(task.upstream_id)
        await self.events.publish(TaskEvent("generation.canceled", task_id, task.account_id))
        return final

    async def watch(
        self, principal: Principal, task_id: str, *, poll_s: float, deadline: float | None = None
    ) -> AsyncGenerator[Snapshot, None]:
        """The task now, then again after each of its events, until it ends.

        Events from worker processes elsewhere may not reach this one (embedded bus), so without an
        event the task is re-read every ``poll_s`` anyway. With a ``deadline`` (event-loop time) the
        watch also ends once it passes, after one last read; the caller sees whether that one ended.

            async for snapshot in generations.watch(principal, task_id, poll_s=1.0):
                show(snapshot.task)
        """
        loop = asyncio.get_running_loop()
        queue = self.events.subscribe(task_id)  # before the first read, so no event is missed
        try:
            snapshot = Snapshot(await self.get(principal, task_id))
            while True:
                yield snapshot
                if snapshot.task.task_state.is_terminal:
                    return
                wait_s = poll_s
                if deadline is not None:
                    wait_s = min(wait_s, deadline - loop.time())
                    if wait_s <= 0:
                        return
                quiet = stopping = False
                try:
                    stopping = (await asyncio.wait_for(queue.get(), timeout=wait_s)).type == STOPPING
                except TimeoutError:
                    quiet = True
                snapshot = Snapshot(await self.get(principal, task_id), quiet=quiet, stopping=stopping)
                if stopping:
                    yield snapshot
                    return
        finally:
            self.events.unsubscribe(task_id, queue)
