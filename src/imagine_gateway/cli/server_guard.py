"""The `imagine` commands that run the gateway itself, and what they say when it is not installed.

``pip install imagine-gateway`` is the client (the SDK and ``models``, ``generate``, ``tasks``,
``files``); the server commands need the ``server`` extra. Without it they print how to get it and exit
2, instead of a traceback from the first missing import.
"""

from __future__ import annotations

import importlib.util
from typing import Any

import typer
from typer.core import TyperGroup

# Commands (or command groups) that import the server's dependencies.
SERVER_COMMANDS = frozenset(
    {"serve", "worker", "db", "keys", "credits", "accounts", "audit", "report", "mock-upstream"}
)
# One top-level module of each distribution in the `server` extra that these commands need first.
SERVER_MODULES = ("fastapi", "uvicorn", "pydantic_settings", "sqlalchemy", "alembic", "aiosqlite")
EXIT_NOT_INSTALLED = 2
INSTALL_HINT = "pip install 'imagine-gateway[server]'"


def missing_server_modules() -> list[str]:
    """The server modules that cannot be imported here (empty when the server is installed)."""
    return [name for name in SERVER_MODULES if importlib.util.find_spec(name) is None]


def require_server(command: str) -> None:
    """Exit 2 with the install command when ``command`` cannot run for want of the server extra."""
    missing = missing_server_modules()
    if missing:
        typer.echo(
            f"{command} needs the server: {INSTALL_HINT} (not installed: {', '.join(missing)})", err=True
        )
        raise typer.Exit(EXIT_NOT_INSTALLED)


class ServerCommandsGroup(TyperGroup):
    """The root `imagine` group: checks the server extra before a server command runs.

    Help and shell completion of those commands still work without it.
    """

    # Typed loosely: Typer's own signature names the click classes it vendors privately.
    def resolve_command(self, ctx: Any, args: list[str]) -> tuple[str | None, Any, list[str]]:
        name, command, rest = super().resolve_command(ctx, args)
        asks_help = any(arg in ctx.help_option_names for arg in rest)
        if name in SERVER_COMMANDS and not ctx.resilient_parsing and not asks_help:
            require_server(f"{ctx.command_path} {name}")
        return name, command, rest
