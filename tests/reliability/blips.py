"""Database blips on demand: terminate every connection a gateway holds to its PostgreSQL database."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httpx
import psycopg
from sqlalchemy.engine import make_url

from tests.conftest import Key
from tests.scaleout.conftest import ADMIN_DSN


def terminate_connections(database_url: str) -> int:
    """``pg_terminate_backend`` on every connection to the database; how many were terminated."""
    name = make_url(database_url).database
    with psycopg.connect(ADMIN_DSN, autocommit=True) as conn:
        rows = conn.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
            " WHERE datname = %s AND pid <> pg_backend_pid()",
            (name,),
        ).fetchall()
    return sum(1 for (done,) in rows if done)


class Blipper:
    """Terminates the database's connections at once and then every ``every_s`` in a thread, until
    stopped (at once: a burst of creates may end before a first period has passed)."""

    def __init__(self, database_url: str, *, every_s: float) -> None:
        self.database_url = database_url
        self.every_s = every_s
        self.rounds = 0
        self.terminated = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="pg-blipper", daemon=True)

    def _run(self) -> None:
        while True:
            self.terminated += terminate_connections(self.database_url)
            self.rounds += 1
            if self._stop.wait(self.every_s):
                return

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=10)


@contextmanager
def blipping(database_url: str, *, every_s: float) -> Iterator[Blipper]:
    blipper = Blipper(database_url, every_s=every_s)
    blipper.start()
    try:
        yield blipper
    finally:
        blipper.stop()


async def create_all(
    base_url: str, key: Key, bodies: list[dict[str, Any]], *, path: str = "/api/v1/generations"
) -> list[httpx.Response]:
    """POST every body as a careful client does: with an Idempotency-Key, again after a 5xx or a reset."""
    async with httpx.AsyncClient(
        base_url=base_url, timeout=60, limits=httpx.Limits(max_connections=32)
    ) as client:
        gate = asyncio.Semaphore(16)

        async def one(index: int, body: dict[str, Any]) -> httpx.Response:
            headers = {**key.headers, "Idempotency-Key": f"reliability-{index}"}
            last: object = None
            async with gate:
                for _ in range(200):
                    try:
                        response = await client.post(path, headers=headers, json=body)
                    except httpx.TransportError as exc:
                        last = exc
                        await asyncio.sleep(0.1)
                        continue
                    if response.status_code < 500:
                        return response
                    last = response.text
                    await asyncio.sleep(0.1)
            raise AssertionError(f"create {index} kept failing: {last!r}")

        return await asyncio.gather(*(one(i, b) for i, b in enumerate(bodies)))
