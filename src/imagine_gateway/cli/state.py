"""Saying which database a command wrote to, and warning when it was created just now.

A key written to a database the server does not use is ``api_key_invalid`` there; naming the
database (and flagging a new one) makes that mistake visible at once.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, ParamSpec

from rich.console import Console

if TYPE_CHECKING:  # imported when a command runs: the client commands load without the server's parts
    from imagine_gateway.settings import Settings

P = ParamSpec("P")

err = Console(stderr=True)


def database_label(settings: Settings) -> str:
    """The database as a reader can find it: a SQLite file's absolute path, else the URL sans password."""
    from sqlalchemy.engine import make_url

    path = sqlite_path(settings)
    if path is not None:
        return str(path)
    return make_url(settings.resolved_database_url).render_as_string(hide_password=True)


def sqlite_path(settings: Settings) -> Path | None:
    """The file of a SQLite database (None for an in-memory one or another database)."""
    from sqlalchemy.engine import make_url

    url = make_url(settings.resolved_database_url)
    if not url.drivername.startswith("sqlite") or url.database in (None, "", ":memory:"):
        return None
    return Path(url.database).resolve()


def reports_database(command: Callable[P, None]) -> Callable[P, None]:
    """Make a command that uses the database name it on stderr when it succeeds, with a warning
    when the command created it (a first use, or a home other than the server's)."""

    @functools.wraps(command)
    def run(*args: P.args, **kwargs: P.kwargs) -> None:
        from imagine_gateway.settings import load_settings

        settings = load_settings()
        path = sqlite_path(settings)
        existed = path is None or path.exists()
        command(*args, **kwargs)
        err.print(f"database: {database_label(settings)}", highlight=False, soft_wrap=True, markup=False)
        if not existed:
            err.print(
                "warning: this database was created just now; a server sees what was written here only "
                "if it uses the same one (IMAGINE_HOME or IMAGINE_DATABASE_URL)",
                style="yellow",
                highlight=False,
                soft_wrap=True,
                markup=False,
            )
            earlier = earlier_home(settings)
            if earlier is not None:
                err.print(
                    f"note: {earlier} holds the database of an earlier default location; "
                    f"set IMAGINE_HOME={earlier} to go on using it",
                    highlight=False,
                    soft_wrap=True,
                    markup=False,
                )

    return run


def earlier_home(settings: Settings) -> Path | None:
    """``./.imagine`` when it holds a database and the default location is in use.

    Versions before the per-user default kept their state there, relative to the working directory.
    """
    from imagine_gateway.settings import default_home

    legacy = Path(".imagine").resolve()
    if settings.database_url is not None or settings.home != default_home():
        return None
    return legacy if (legacy / "imagine.db").is_file() else None
