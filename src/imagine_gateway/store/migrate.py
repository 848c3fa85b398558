"""Schema migrations (Alembic), run by `imagine db upgrade` and at server start."""

from __future__ import annotations

import functools
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.script import ScriptDirectory
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import OperationalError, ProgrammingError
from sqlalchemy.ext.asyncio import AsyncConnection

from imagine_gateway.store.db import sync_url

MIGRATIONS_DIR = Path(__file__).parent / "migrations"


def alembic_config(database_url: str) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    cfg.set_main_option("sqlalchemy.url", sync_url(database_url).replace("%", "%%"))
    return cfg


def upgrade(database_url: str, revision: str = "head") -> None:
    """Bring the database schema up to ``revision``."""
    path = make_url(database_url).database
    if database_url.startswith("sqlite") and path and path != ":memory:":
        Path(path).parent.mkdir(parents=True, exist_ok=True)
    command.upgrade(alembic_config(database_url), revision)


@functools.cache
def head_revision() -> str:
    """The newest schema revision this version of the gateway ships."""
    head = ScriptDirectory(str(MIGRATIONS_DIR)).get_current_head()
    if head is None:  # pragma: no cover - the package ships its migrations
        raise RuntimeError("no schema migrations found")
    return head


@functools.cache
def known_revisions() -> frozenset[str]:
    """Every schema revision this version of the gateway knows (older ones and its head)."""
    return frozenset(r.revision for r in ScriptDirectory(str(MIGRATIONS_DIR)).walk_revisions())


async def current_revision(conn: AsyncConnection) -> str | None:
    """The schema revision the database is at (None before the first migration)."""
    try:
        result = await conn.execute(text("SELECT version_num FROM alembic_version"))
    except (ProgrammingError, OperationalError):  # no version table: never migrated
        return None
    row = result.first()
    return str(row[0]) if row is not None else None
