"""/healthz and /readyz: ready, not ready while a dependency is away, ready again when it returns."""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from collections.abc import Callable, Iterator

import httpx
import psycopg
import pytest

from imagine_gateway.store.migrate import head_revision
from tests.conftest import Gateway
from tests.scaleout.conftest import ADMIN_DSN, pg_url, redis_url

__all__ = ["pg_url", "redis_url"]


def wait_status(gateway: Gateway, status: int, *, timeout_s: float = 15) -> dict[str, object]:
    deadline = time.monotonic() + timeout_s
    while (response := gateway.http.get("/readyz")).status_code != status:
        assert time.monotonic() < deadline, f"/readyz stayed {response.status_code}: {response.text}"
        time.sleep(0.05)
    body: dict[str, object] = response.json()
    return body


def states(body: dict[str, object]) -> dict[str, str]:
    checks = body["checks"]
    assert isinstance(checks, dict)
    return {name: check["status"] for name, check in checks.items()}


@pytest.mark.fresh_database  # the schema it reports is the one this gateway's own start migrated
def test_healthz_answers_and_readyz_names_every_check(gateway: Gateway) -> None:
    health = gateway.http.get("/healthz")
    ready = gateway.http.get("/readyz")

    assert (health.status_code, health.json()) == (200, {"status": "ok"})
    assert ready.status_code == 200
    assert ready.json() == {
        "status": "ready",
        "checks": {
            "database": {"status": "ok", "detail": f"reachable, schema at {head_revision()}"},
            "storage": {"status": "ok", "detail": "writable"},
            "providers": {
                "status": "ok",
                "detail": "every model has a usable provider",
                "breakers": {"sandbox": "closed"},
                "misconfigured": {},
            },
            "shutdown": {"status": "ok", "detail": "running"},
        },
    }


def test_readyz_fails_while_storage_cannot_be_written_and_recovers(gateway: Gateway) -> None:
    media = gateway.settings.home / "media"
    moved = gateway.settings.home / "media-away"
    media.mkdir(exist_ok=True)
    media.rename(moved)
    media.write_text("not a directory")  # writes into it now fail
    try:
        body = wait_status(gateway, 503)
        assert states(body) == {"database": "ok", "storage": "failing", "providers": "ok", "shutdown": "ok"}
        assert body["status"] == "not_ready"
    finally:
        media.unlink()
        moved.rename(media)
    assert states(wait_status(gateway, 200))["storage"] == "ok"


def test_readyz_follows_postgresql_going_away_and_coming_back(
    pg_url: str, gateway_factory: Callable[..., Gateway]
) -> None:
    gateway = gateway_factory(database_url=pg_url)
    name = pg_url.rsplit("/", 1)[1]
    assert states(wait_status(gateway, 200))["database"] == "ok"

    with psycopg.connect(ADMIN_DSN, autocommit=True) as admin:
        admin.execute(f'ALTER DATABASE "{name}" WITH ALLOW_CONNECTIONS false')
        admin.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s", (name,))
        try:
            body = wait_status(gateway, 503)
        finally:
            admin.execute(f'ALTER DATABASE "{name}" WITH ALLOW_CONNECTIONS true')
    assert states(body)["database"] == "failing"
    assert states(wait_status(gateway, 200)) == {
        "database": "ok",
        "storage": "ok",
        "providers": "ok",
        "shutdown": "ok",
    }


class Relay:
    """A TCP relay to Redis that can be cut and restored on the same port (Redis 'goes away')."""

    def __init__(self, target: tuple[str, int]) -> None:
        self.target = target
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = int(s.getsockname()[1])
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        self.server: asyncio.Server | None = None
        self.pipes: set[asyncio.StreamWriter] = set()

    def start(self) -> None:
        asyncio.run_coroutine_threadsafe(self._start(), self.loop).result(5)

    def cut(self) -> None:
        asyncio.run_coroutine_threadsafe(self._cut(), self.loop).result(5)

    def close(self) -> None:
        self.cut()
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(5)
        self.loop.close()

    async def _start(self) -> None:
        self.server = await asyncio.start_server(self._relay, "127.0.0.1", self.port, reuse_address=True)

    async def _cut(self) -> None:
        if self.server is not None:
            self.server.close()
            self.server = None
        for writer in list(self.pipes):
            writer.close()

    async def _relay(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        up_reader, up_writer = await asyncio.open_connection(*self.target)
        self.pipes |= {writer, up_writer}

        async def pump(src: asyncio.StreamReader, dst: asyncio.StreamWriter) -> None:
            try:
                while data := await src.read(65536):
                    dst.write(data)
                    await dst.drain()
            except (ConnectionError, OSError):
                pass
            finally:
                dst.close()

        await asyncio.gather(pump(reader, up_writer), pump(up_reader, writer))


@pytest.fixture
def relay() -> Iterator[Relay]:
    made = Relay(("127.0.0.1", 6379))
    made.start()
    yield made
    made.close()


def test_readyz_follows_redis_going_away_and_coming_back(
    relay: Relay, gateway_factory: Callable[..., Gateway]
) -> None:
    gateway = gateway_factory(redis_url=f"redis://127.0.0.1:{relay.port}/0")
    assert states(wait_status(gateway, 200))["redis"] == "ok"

    relay.cut()
    body = wait_status(gateway, 503)
    assert states(body)["redis"] == "failing"

    relay.start()
    assert states(wait_status(gateway, 200))["redis"] == "ok"


def test_readyz_says_not_ready_once_a_shutdown_began(gateway: Gateway) -> None:
    gateway.runtime.begin_shutdown()

    body = httpx.get(f"{gateway.base_url}/readyz").json()

    assert body["status"] == "not_ready"
    assert body["checks"]["shutdown"] == {"status": "failing", "detail": "stopping"}
    assert httpx.get(f"{gateway.base_url}/healthz").status_code == 200
