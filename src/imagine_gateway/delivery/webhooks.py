"""Signed webhook delivery: the outbox scan and the delivery loop (the URL rules: ``webhook_urls``).

Durable without touching the worker: the loop scans the task table for tasks that ended
(``succeeded``/``failed``) since its last pass, and for each one that an active endpoint or the task's
own ``webhook_url`` listens for, inserts one event row and one delivery row per target in a single
transaction. Unique constraints make the scan idempotent, so several loops (scale-out) and re-reads of
the overlap window never announce a task twice. Delivery rows are then sent with a lease and retried on
a backoff schedule; each attempt is a POST signed per Standard Webhooks (``webhook-id``,
``webhook-timestamp``, ``webhook-signature``).

    dispatcher = WebhookDispatcher(db=db, settings=settings, clock=clock, render_task=view)
    loop = asyncio.create_task(dispatcher.run(stop))
"""

from __future__ import annotations

import asyncio
import base64
import json
import logging
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import httpx
from standardwebhooks.webhooks import Webhook

from imagine_gateway.core.clock import Clock
from imagine_gateway.core.errors import WebhookUrlRejected
from imagine_gateway.core.ids import new_id
from imagine_gateway.core.records import Task, WebhookDelivery
from imagine_gateway.core.timefmt import iso_ms
from imagine_gateway.delivery.webhook_urls import check_url_shape, public_addresses
from imagine_gateway.net import (
    Resolver,
    SystemResolver,
    default_port,
    http_transport,
    is_ip_literal,
)
from imagine_gateway.settings import Settings
from imagine_gateway.store import webhooks as store
from imagine_gateway.store.db import Database
from imagine_gateway.telemetry import metrics

log = logging.getLogger("imagine_gateway.webhooks")

EVENT_TYPES = ("generation.succeeded", "generation.failed")
TEST_EVENT_TYPE = "webhook.test"
API_VERSION = "2026-05-11"  # Rivya's envelope carries the API version its payload follows
SECRET_PREFIX = "whsec_"
SCAN_PAGE = 200
SEND_BATCH = 100
SEND_CONCURRENCY = 16


def new_secret() -> str:
    """A fresh signing secret, ``whsec_`` + base64 of 24 random bytes (Standard Webhooks form)."""
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(24)).decode()


def secret_preview(secret: str) -> str:
    """``whsec_12...abc123``: enough to tell secrets apart, useless to an attacker."""
    return f"{secret[: len(SECRET_PREFIX) + 2]}...{secret[-6:]}"


def signature_headers(secret: str, *, msg_id: str, timestamp_s: int, body: str) -> dict[str, str]:
    """The three Standard Webhooks headers for ``body``."""
    moment = datetime.fromtimestamp(timestamp_s, tz=UTC)
    return {
        "webhook-id": msg_id,
        "webhook-timestamp": str(timestamp_s),
        "webhook-signature": Webhook(secret).sign(msg_id, moment, body),
    }


def event_envelope(
    event_id: str, event_type: str, *, created_at_ms: int, data: dict[str, Any]
) -> dict[str, Any]:
    return {
        "id": event_id,
        "object": "event",
        "type": event_type,
        "api_version": API_VERSION,
        "created_at": iso_ms(created_at_ms),
        "data": data,
    }


@dataclass(frozen=True)
class Outcome:
    ok: bool
    status_code: int | None = None
    error: str | None = None
    final: bool = False  # no point retrying (e.g. the endpoint was deleted)


class WebhookDispatcher:
    """Turns finished tasks into events and delivers them; one per process that runs the API."""

    def __init__(
        self,
        *,
        db: Database,
        settings: Settings,
        clock: Clock,
        render_task: Callable[[Task], dict[str, Any]],
        resolver: Resolver | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.db = db
        self.settings = settings
        self.clock = clock
        self.render_task = render_task
        self.resolver = resolver or SystemResolver()
        self._owns_transport = transport is None
        self.transport = transport or http_transport()
        self._wake = asyncio.Event()
        self._slots = asyncio.Semaphore(SEND_CONCURRENCY)

    def wake(self) -> None:
        """Run the next pass now instead of at the next interval."""
        self._wake.set()

    async def run(self, stop: asyncio.Event) -> None:
        """Scan and deliver until ``stop`` is set."""
        while not stop.is_set():
            try:
                await self.tick()
            except Exception:  # keep delivering through a database hiccup
                log.exception("webhook pass failed")
            self._wake.clear()
            await self._pause(stop)

    async def _pause(self, stop: asyncio.Event) -> None:
        """Until the poll interval passes, ``wake`` is called or ``stop`` is set (prompt shutdown)."""
        waiters = [asyncio.ensure_future(self._wake.wait()), asyncio.ensure_future(stop.wait())]
        try:
            await asyncio.wait(
                waiters, timeout=self.settings.webhook_poll_interval_s, return_when=asyncio.FIRST_COMPLETED
            )
        finally:
            for waiter in waiters:
                waiter.cancel()

    async def aclose(self) -> None:
        if self._owns_transport:
            await self.transport.aclose()

    async def tick(self) -> tuple[int, int]:
        """One pass: (events created, delivery attempts made)."""
        return await self.scan(), await self.deliver_due()

    async def scan(self) -> int:
        """Announce tasks that ended since the last pass (re-reading the overlap window)."""
        started = self.clock.now_ms()
        overlap_ms = int(self.settings.webhook_scan_overlap_s * 1000)
        async with self.db.read() as conn:
            mark = await store.watermark(conn)
        since = (started if mark is None else mark) - overlap_ms
        created = 0
        after: tuple[int, str] | None = None
        while True:
            async with self.db.read() as conn:
                batch = await store.finished_tasks_to_announce(
                    conn, since_ms=since, after=after, limit=SCAN_PAGE
                )
            for task in batch:
                created += await self._announce(task)
            if len(batch) < SCAN_PAGE:
                break
            last = batch[-1]
            after = (last.completed_at or 0, last.id)
        # Persisting the mark now and then is enough: the scan window only grows a little meanwhile.
        if mark is None or started - mark >= overlap_ms // 4:
            async with self.db.write() as conn:
                await store.set_watermark(conn, started)
        return created

    async def _announce(self, task: Task) -> int:
        event_type = f"generation.{task.state}"
        at = task.completed_at or task.updated_at
        now = self.clock.now_ms()
        event_id = new_id("evt")
        payload = event_envelope(event_id, event_type, created_at_ms=now, data=self.render_task(task))
        async with self.db.write() as conn:
            endpoints = await store.list_endpoints(conn, task.account_id)
            targets: list[tuple[str | None, str, str]] = [
                (e.id, e.id, e.url) for e in store.active_subscribers(endpoints, event_type, at_ms=at)
            ]
            if task.webhook_url and task.webhook_url not in {url for _, _, url in targets}:
                targets.append((None, store.TASK_TARGET, task.webhook_url))
            fresh = await store.insert_event(
                conn,
                {
                    "id": event_id,
                    "account_id": task.account_id,
                    "task_id": task.id,
                    "type": event_type,
                    "payload": payload,
                    "created_at": now,
                },
            )
            if not fresh:
                return 0
            for endpoint_id, target, url in targets:
                await self.queue(
                    conn,
                    event_id=event_id,
                    event_type=event_type,
                    account_id=task.account_id,
                    task_id=task.id,
                    endpoint_id=endpoint_id,
                    target=target,
                    url=url,
                    now_ms=now,
                )
        self.wake()
        return 1

    @staticmethod
    async def queue(
        conn: Any,
        *,
        event_id: str,
        event_type: str,
        account_id: str,
        task_id: str | None,
        endpoint_id: str | None,
        target: str,
        url: str,
        now_ms: int,
    ) -> str:
        """Insert a pending delivery due now; returns its id."""
        delivery_id = new_id("whdel")
        await store.insert_delivery(
            conn,
            {
                "id": delivery_id,
                "event_id": event_id,
                "account_id": account_id,
                "endpoint_id": endpoint_id,
                "target": target,
                "event_type": event_type,
                "task_id": task_id,
                "url": url,
                "status": "pending",
                "attempts": 0,
                "next_attempt_at": now_ms,
                "created_at": now_ms,
                "updated_at": now_ms,
            },
        )
        return delivery_id

    async def deliver_due(self) -> int:
        """Send every due attempt this loop can lease."""
        now = self.clock.now_ms()
        lease_ms = int((self.settings.webhook_timeout_s + self.settings.webhook_lease_margin_s) * 1000)
        async with self.db.read() as conn:
            due = await store.due_deliveries(conn, now_ms=now, limit=SEND_BATCH)
        if not due:
            return 0
        claimed: list[WebhookDelivery] = []
        async with self.db.write() as conn:
            for delivery in due:
                if await store.claim_delivery(conn, delivery, now_ms=now, lease_ms=lease_ms):
                    claimed.append(delivery)
        await asyncio.gather(*(self._attempt(d) for d in claimed))
        return len(claimed)

    async def _attempt(self, delivery: WebhookDelivery) -> None:
        async with self._slots:
            started = time.perf_counter()
            try:
                outcome = await self._send(delivery)
            except Exception as exc:  # an attempt must always be recorded, or it would stay leased
                log.exception("webhook delivery %s failed unexpectedly", delivery.id)
                outcome = Outcome(False, error=f"internal error: {type(exc).__name__}")
            metrics.webhook_latency.observe(time.perf_counter() - started)
        await self._record(delivery, outcome)

    async def _send(self, delivery: WebhookDelivery) -> Outcome:
        async with self.db.read() as conn:
            event = await store.get_event(conn, delivery.event_id)
            if delivery.endpoint_id is not None:
                endpoint = await store.get_endpoint(conn, delivery.endpoint_id)
                secret = endpoint.secret if endpoint and endpoint.status == "active" else None
                missing = "the endpoint was disabled or deleted"
            else:
                secret = await store.account_signing_secret(conn, delivery.account_id)
                missing = "no webhook endpoint to sign with: register one with POST /api/v1/webhooks"
        if event is None:  # pragma: no cover - events are never deleted while deliveries exist
            return Outcome(False, error="the event no longer exists", final=True)
        if secret is None:
            # A task URL may still get a signing endpoint registered before the next attempt.
            return Outcome(False, error=missing, final=delivery.endpoint_id is not None)
        body = json.dumps(event.payload, separators=(",", ":"))
        headers = {
            "Content-Type": "application/json",
            "User-Agent": "imagine-gateway-webhooks",
            **signature_headers(secret, msg_id=event.id, timestamp_s=self.clock.now_ms() // 1000, body=body),
        }
        try:
            async with asyncio.timeout(self.settings.webhook_timeout_s):
                return await self._post(delivery.url, headers, body.encode())
        except TimeoutError:
            return Outcome(False, error=f"timed out after {self.settings.webhook_timeout_s} s")

    async def _post(self, raw_url: str, headers: dict[str, str], body: bytes) -> Outcome:
        """POST to a vetted, pinned address; no redirects are followed."""
        allow_private = self.settings.webhook_allow_private
        try:
            url = check_url_shape(raw_url, allow_private=allow_private)
            if allow_private:
                ips = (
                    [url.host]
                    if is_ip_literal(url.host)
                    else await self.resolver.resolve(url.host, default_port(url))
                )
            else:
                ips = await public_addresses(url, self.resolver)
        except WebhookUrlRejected as exc:
            return Outcome(
                False, error=f"url rejected: {exc.details[0].issue if exc.details else exc.message}"
            )
        except OSError:
            return Outcome(False, error="url rejected: host could not be resolved")
        extensions: dict[str, Any] = {"timeout": httpx.Timeout(self.settings.webhook_timeout_s).as_dict()}
        if url.scheme == "https" and not is_ip_literal(url.host):
            extensions["sni_hostname"] = url.raw_host.decode("ascii")
        failure = "connection failed"
        for ip in ips:
            request = httpx.Request(
                "POST",
                url.copy_with(host=ip),
                headers={**headers, "Host": url.netloc.decode("ascii")},
                content=body,
                extensions=extensions,
            )
            try:
                response = await self.transport.handle_async_request(request)
            except httpx.ConnectError:
                continue  # try the host's next address
            except httpx.TimeoutException:
                return Outcome(False, error=f"timed out after {self.settings.webhook_timeout_s} s")
            except httpx.HTTPError as exc:
                return Outcome(False, error=f"{failure}: {type(exc).__name__}")
            await response.aclose()
            code = response.status_code
            return Outcome(200 <= code < 300, code, None if 200 <= code < 300 else f"answered HTTP {code}")
        return Outcome(False, error=failure)

    async def _record(self, delivery: WebhookDelivery, outcome: Outcome) -> None:
        now = self.clock.now_ms()
        delays_s = self.settings.webhook_retry_delays_s
        attempt = delivery.attempts + 1
        retry = not outcome.ok and not outcome.final and attempt <= len(delays_s)
        status = "succeeded" if outcome.ok else ("pending" if retry else "failed")
        metrics.webhook_deliveries.labels(
            "succeeded" if outcome.ok else ("retrying" if retry else "failed")
        ).inc()
        next_at = now + int(delays_s[attempt - 1] * 1000) if retry else None
        async with self.db.write() as conn:
            await store.finish_attempt(
                conn,
                delivery,
                status=status,
                status_code=outcome.status_code,
                error=outcome.error,
                next_attempt_at=next_at,
                now_ms=now,
            )
            if delivery.endpoint_id is not None:
                await store.record_outcome(conn, delivery.endpoint_id, ok=outcome.ok, now_ms=now)
