"""``upgrade``: a new database is migrated to the head, an older one is brought up to it, one at the
head is left as it is, and one from a newer version or one that cannot be reached is refused."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import alembic.util
import pytest
import sqlalchemy
from alembic.script import ScriptDirectory
from sqlalchemy import create_engine, inspect

from imagine_gateway.store.db import sync_url
from imagine_gateway.store.migrate import MIGRATIONS_DIR, head_revision, stamped_revisions, upgrade
from imagine_gateway.store.tables import metadata
from tests.runtime.test_runtime import closed_port
from tests.scaleout.conftest import pg_url

__all__ = ["pg_url"]

EVERY_TABLE = {*metadata.tables, "alembic_version"}


def sqlite_file(tmp_path: Path) -> tuple[Path, str]:
    path = tmp_path / "state" / "imagine.db"
    return path, f"sqlite+aiosqlite:///{path}"


def table_names(url: str) -> set[str]:
    engine = create_engine(sync_url(url))
    try:
        return set(inspect(engine).get_table_names())
    finally:
        engine.dispose()


def revision_before_head() -> str:
    head = ScriptDirectory(str(MIGRATIONS_DIR)).get_revision(head_revision())
    assert head is not None and isinstance(head.down_revision, str)
    return head.down_revision


def test_a_new_sqlite_file_is_created_and_migrated_to_the_head(tmp_path: Path) -> None:
    path, url = sqlite_file(tmp_path)

    upgrade(url)

    assert path.is_file()
    assert stamped_revisions(url) == {head_revision()}
    assert table_names(url) == EVERY_TABLE


def test_a_database_never_migrated_has_no_stamped_revision(tmp_path: Path) -> None:
    _, url = sqlite_file(tmp_path)
    (tmp_path / "state").mkdir()

    assert stamped_revisions(url) is None


def test_a_database_at_the_head_is_left_as_it_is(tmp_path: Path) -> None:
    path, url = sqlite_file(tmp_path)
    upgrade(url)
    with sqlite3.connect(path) as conn:
        conn.execute("CREATE TABLE operator_notes (note TEXT)")
        conn.execute("INSERT INTO operator_notes VALUES ('kept')")

    upgrade(url)

    assert stamped_revisions(url) == {head_revision()}
    with sqlite3.connect(path) as conn:
        assert conn.execute("SELECT note FROM operator_notes").fetchall() == [("kept",)]


def test_an_older_schema_is_brought_up_to_the_head(tmp_path: Path) -> None:
    _, url = sqlite_file(tmp_path)
    older = revision_before_head()
    upgrade(url, older)
    assert stamped_revisions(url) == {older}

    upgrade(url)

    assert stamped_revisions(url) == {head_revision()}
    assert table_names(url) == EVERY_TABLE


def test_a_schema_from_a_newer_version_is_refused(tmp_path: Path) -> None:
    path, url = sqlite_file(tmp_path)
    upgrade(url)
    with sqlite3.connect(path) as conn:
        conn.execute("UPDATE alembic_version SET version_num = 'ffff_newer'")

    with pytest.raises(alembic.util.CommandError, match="Can't locate revision identified by 'ffff_newer'"):
        upgrade(url)

    assert stamped_revisions(url) == {"ffff_newer"}


def test_a_database_that_cannot_be_reached_raises_sqlalchemys_operational_error() -> None:
    url = f"postgresql+asyncpg://postgres@127.0.0.1:{closed_port()}/imagine"

    with pytest.raises(sqlalchemy.exc.OperationalError, match="Connection refused"):
        upgrade(url)


def test_a_new_postgresql_database_is_migrated_once_and_then_left_at_the_head(pg_url: str) -> None:
    assert stamped_revisions(pg_url) is None

    upgrade(pg_url)
    upgrade(pg_url)

    assert stamped_revisions(pg_url) == {head_revision()}
    assert table_names(pg_url) == EVERY_TABLE
