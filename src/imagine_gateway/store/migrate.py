"""Schema migrations (Alembic), run by `imagine db upgrade`, at server start and by every command that
opens the database.

Most of those runs find the schema already at this version's head. ``upgrade`` answers that case
from the ``alembic_version`` row alone: Alembic reads and executes every migration script each time
it is asked, which would cost every start and every CLI command tens of milliseconds for nothing.
"""

from __future__ import annotations

import functools
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.script import ScriptDirectory
from sqlalchemy import create_engine, pool, text
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
    """Bring the database schema up to ``revision``.

    A database already at the head, asked for the head, is left as it is without starting Alembic.
    Anything else (a new database, an older schema, a revision this version does not know) goes to
    Alembic, which migrates it or says what is wrong.
    """
    path = make_url(database_url).database
    if database_url.startswith("sqlite") and path and path != ":memory:":
        Path(path).parent.mkdir(parents=True, exist_ok=True)
    head = head_revision()
    if revision in ("head", head) and stamped_revisions(database_url) == frozenset({head}):
        return
    command.upgrade(alembic_config(database_url), revision)


def stamped_revisions(database_url: str) -> frozenset[str] | None:
    """The revisions in the database's ``alembic_version`` table (None when it has no such table).

    A database that cannot be reached raises SQLAlchemy's ``OperationalError``, as Alembic would.
    """
    engine = create_engine(sync_url(database_url), poolclass=pool.NullPool)
    try:
        with engine.connect() as conn:
            try:
                rows = conn.execute(text("SELECT version_num FROM alembic_version")).scalars().all()
            except (ProgrammingError, OperationalError):  # no version table: never migrated
                return None
    finally:
        engine.dispose()
    return frozenset(str(row) for row in rows)


@functools.cache
def _scripts() -> ScriptDirectory:
    # Reading the scripts executes every migration module: once per process is enough.
    return ScriptDirectory(str(MIGRATIONS_DIR))


@functools.cache
def head_revision() -> str:
    """The newest schema revision this version of the gateway ships."""
    head = _scripts().get_current_head()
    if head is None:  # pragma: no cover - the package ships its migrations
        raise RuntimeError("no schema migrations found")
    return head


@functools.cache
def known_revisions() -> frozenset[str]:
    """Every schema revision this version of the gateway knows (older ones and its head)."""
    return frozenset(r.revision for r in _scripts().walk_revisions())


async def current_revision(conn: AsyncConnection) -> str | None:
    """The schema revision the database is at (None before the first migration)."""
    try:
        result = await conn.execute(text("SELECT version_num FROM alembic_version"))
    except (ProgrammingError, OperationalError):  # no version table: never migrated
        return None
    row = result.first()
    return str(row[0]) if row is not None else None
