"""Shared fixtures: real gateways on loopback over real SQLite files (PostgreSQL where marked)."""

from __future__ import annotations

import asyncio
import shutil
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy.engine import make_url

from imagine_gateway.api.app import create_app
from imagine_gateway.net import client_ssl_context
from imagine_gateway.runtime import Overrides, Runtime
from imagine_gateway.services.accounts import NewKey, open_accounts
from imagine_gateway.settings import Settings, load_settings
from imagine_gateway.store.migrate import upgrade
from imagine_gateway.testing.loopback import LoopbackServer

# xdist: one module per unit of work, per-worker resources, and the `serial` mark (docs/testing.md)
pytest_plugins = ["tests.parallel"]

FAST = {
    "sandbox_latency_s": 0.3,
    "sandbox_fps": 4,
    "worker_idle_poll_s": 0.05,
    "rate_limit": "100000/minute",
}


class SchemaTemplate:
    """An embedded database that the real migrations brought to head, made once per test process.

    Migrating a new SQLite file costs a gateway's start more CPU than everything else it does, and
    hundreds of tests start one. A gateway on the default embedded database whose home has none yet
    gets a copy of this file instead, finds it at head and starts without migrating. It is built
    from the migrations in the tree when first needed, so a new migration is in it at once. A test
    marked ``fresh_database`` (one about migrating, or about a fresh home) starts from nothing.
    """

    def __init__(self) -> None:
        self.directory: Path | None = None  # set for the session by the `_schema_template` fixture
        self._file: Path | None = None

    def seed(self, settings: Settings) -> None:
        """Put a copy where ``settings`` keep the embedded database, unless it is not the default
        one, or the home already has one (a restart, or a test that prepared its own)."""
        if settings.database_url is not None or self.directory is None:
            return
        target = Path(str(make_url(settings.resolved_database_url).database))
        if target.exists():
            return
        if self._file is None:
            made = self.directory / "imagine.db"
            upgrade(f"sqlite+aiosqlite:///{made}")
            self._file = made
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(self._file, target)

    def reset(self) -> None:
        self.directory = self._file = None


SCHEMA = SchemaTemplate()


@pytest.fixture(scope="session", autouse=True)
def _schema_template(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """The session's (each xdist worker's) directory for the schema template, built lazily."""
    SCHEMA.directory = tmp_path_factory.mktemp("schema")
    yield
    SCHEMA.reset()


@dataclass
class Key:
    secret: str
    account_id: str
    key_id: str

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.secret}"}


async def create_key(settings: Settings, **options: Any) -> NewKey:
    """A key made as ``imagine keys create`` makes it: through the accounts service, no server needed."""
    async with open_accounts(settings) as accounts:
        return await accounts.create_key(**options)


@dataclass
class Gateway:
    settings: Settings
    server: LoopbackServer
    http: httpx.Client

    @property
    def base_url(self) -> str:
        return self.server.base_url

    @property
    def ctx(self) -> Any:
        return self.server.app.state.ctx  # type: ignore[union-attr]

    @property
    def runtime(self) -> Runtime:
        found: Runtime = self.server.app.state.runtime  # type: ignore[union-attr]
        return found

    def stop(self) -> None:
        """Close the client, then stop the server (its lifespan stops the runtime)."""
        self.http.close()
        self.server.stop()

    def key(
        self,
        *,
        credits: int = 1000,
        scopes: list[str] | None = None,
        name: str = "test",
        account: str | None = None,
        rate_limit: str | None = None,
        expires_in_s: float | None = None,
    ) -> Key:
        made = asyncio.run(
            create_key(
                self.settings,
                name=name,
                account_ref=account,
                credits=credits,
                scopes=scopes,
                expires_in_s=expires_in_s,
                rate_limit=rate_limit,
            )
        )
        return Key(made.secret, made.account.id, made.key.id)

    def wait_for(
        self,
        task_id: str,
        key: Key,
        *,
        statuses: tuple[str, ...] = ("succeeded", "failed", "canceled"),
        timeout_s: float = 30.0,
    ) -> dict[str, Any]:
        import time

        deadline = time.monotonic() + timeout_s
        while True:
            body = self.http.get(f"/api/v1/generations/{task_id}", headers=key.headers).json()
            if body["status"] in statuses:
                return body
            if time.monotonic() > deadline:
                raise AssertionError(f"task {task_id} still {body['status']} after {timeout_s} s")
            time.sleep(0.05)


def make_settings(home: Path, **overrides: Any) -> Settings:
    values: dict[str, Any] = {"home": home, **FAST, **overrides}
    return load_settings(**values)


def start_gateway(
    home: Path, overrides: Overrides | None = None, *, fresh_database: bool = False, **settings: Any
) -> Gateway:
    """A gateway (its runtime inside the app's lifespan) on a free loopback port; ``stop()`` it after.

    Its embedded database starts as a copy of the migrated template (``SchemaTemplate``), unless
    ``fresh_database`` or the gateway does not migrate (``Overrides.migrate`` off).
    """
    server = LoopbackServer()
    s = make_settings(home, public_base_url=server.base_url, **settings)
    if not fresh_database and (overrides is None or overrides.migrate):
        SCHEMA.seed(s)
    try:
        server.app = create_app(s, overrides)
        server.start()
    except BaseException:
        server.stop()
        raise
    settled: Settings = server.app.state.ctx.settings  # with the signing secret the runtime settled
    # The process's one TLS context: httpx would load the CA bundle again for every client.
    http = httpx.Client(base_url=server.base_url, timeout=30, verify=client_ssl_context())
    return Gateway(settings=settled, server=server, http=http)


@pytest.fixture
def gateway_factory(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Callable[..., Gateway]]:
    """Start gateways (API + in-process worker) on loopback; each stops at the end of the test."""
    running: list[Gateway] = []
    fresh = request.node.get_closest_marker("fresh_database") is not None

    def start(home: Path | None = None, overrides: Overrides | None = None, **settings: Any) -> Gateway:
        gw = start_gateway(home or tmp_path / "home", overrides, fresh_database=fresh, **settings)
        running.append(gw)
        return gw

    yield start
    for gw in running:
        gw.stop()


@pytest.fixture
def gateway(gateway_factory: Callable[..., Gateway]) -> Gateway:
    return gateway_factory()


@pytest.fixture(scope="module")
def s3_endpoint() -> Iterator[str]:
    """A moto S3 server on a free loopback port, shared by one module's tests."""
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()
