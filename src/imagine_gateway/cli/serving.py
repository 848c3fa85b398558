"""`imagine serve --workers N`: N API processes sharing one listening socket.

uvicorn's supervisor binds the socket once and starts N processes (spawned, so each imports the app
afresh through ``app`` below, and restarts one that dies). The parent settles what every process
must share before any starts: the schema is migrated once, the signing secret is written under
home once, and the settings the command line gave travel to the children in the environment.

The task worker: on PostgreSQL every process may run one (claims are leased, ``SKIP LOCKED``). On
SQLite, one database file has one writer, so exactly one process runs the worker loop and the
retention sweeper: the one holding an exclusive lock on ``<home>/worker.lock``. The lock goes with
its process, so when that process dies the one uvicorn starts in its place takes the worker over.

Without Redis (``IMAGINE_REDIS_URL``) each process keeps its own rate-limit counters and its own
event bus: a per-key limit then holds per process, and an event stream served by a process other
than the worker's sees its task change on its re-read (``KEEP_ALIVE_S``) rather than at once.
"""

from __future__ import annotations

import fcntl
import os
from pathlib import Path
from typing import IO, Any

from fastapi import FastAPI

from imagine_gateway.settings import Settings, load_settings

WORKER_LOCK = "worker.lock"
_held: list[IO[str]] = []  # the worker lock's file, open for as long as this process lives


def hold_worker_lock(home: Path) -> bool:
    """True when this process now holds the SQLite worker lock (it then runs the worker)."""
    if _held:
        return True
    home.mkdir(parents=True, exist_ok=True)
    handle = (home / WORKER_LOCK).open("a")
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        handle.close()
        return False
    _held.append(handle)
    return True


def child_settings() -> Settings:
    """This API process's settings: the environment the parent prepared, the worker decided here."""
    settings = load_settings()
    if settings.run_worker and settings.is_sqlite and not hold_worker_lock(settings.home):
        settings = settings.model_copy(update={"run_worker": False})
    return settings


def app() -> FastAPI:
    """The app of one API process (uvicorn's factory)."""
    from imagine_gateway.api.app import create_app
    from imagine_gateway.runtime import Overrides
    from imagine_gateway.telemetry.logs import configure_logging

    settings = child_settings()
    configure_logging(settings)
    return create_app(settings, Overrides(announce_sandbox=False, migrate=False), freeze_gc=True)


def __getattr__(name: str) -> Any:
    # uvicorn imports the HTTP protocol by name in each process: the bounded one, for these settings.
    if name == "Protocol":
        from imagine_gateway.api.http_server import http_protocol

        return http_protocol(load_settings())
    raise AttributeError(name)


def run_processes(settings: Settings, workers: int) -> None:
    """Serve with ``workers`` API processes until stopped (SIGINT/SIGTERM stop them all)."""
    import uvicorn

    from imagine_gateway.runtime.context import with_signing_key
    from imagine_gateway.store.migrate import upgrade

    upgrade(settings.resolved_database_url)
    settings = with_signing_key(settings)  # written under home now, so every process reads the same
    os.environ.update(
        {
            "IMAGINE_HOST": settings.host,
            "IMAGINE_PORT": str(settings.port),
            "IMAGINE_RUN_WORKER": "true" if settings.run_worker else "false",
            "IMAGINE_HOME": str(settings.home.resolve()),
        }
    )
    if settings.public_base_url:
        os.environ["IMAGINE_PUBLIC_BASE_URL"] = str(settings.public_base_url)
    uvicorn.run(
        "imagine_gateway.cli.serving:app",
        factory=True,
        workers=workers,
        host=settings.host,
        port=settings.port,
        log_level=settings.log_level,
        proxy_headers=True,
        log_config=None,
        access_log=False,
        http="imagine_gateway.cli.serving:Protocol",
    )
