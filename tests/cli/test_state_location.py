"""One state location per user: a key created from any directory reaches the server the user runs.

Every test here sets HOME (and XDG_DATA_HOME where it matters) to its own temporary directory, so
the real user's data directory is never touched.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from typer.testing import CliRunner, Result

from imagine_gateway.cli.main import app
from imagine_gateway.cli.state import database_label
from imagine_gateway.settings import default_home, load_settings

NEW_DATABASE_WARNING = (
    "warning: this database was created just now; a server sees what was written here only if it uses "
    "the same one (IMAGINE_HOME or IMAGINE_DATABASE_URL)"
)


def user_env(home: Path, **extra: str) -> dict[str, str]:
    """The environment of a user whose home is ``home``, with no state location configured."""
    env = {k: v for k, v in os.environ.items() if k not in ("IMAGINE_HOME", "XDG_DATA_HOME", "XAI_API_KEY")}
    return {**env, "HOME": str(home), **extra}


def imagine(*args: str, cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "imagine_gateway.cli.main", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def serve() -> Iterator[list[subprocess.Popen[str]]]:
    started: list[subprocess.Popen[str]] = []
    yield started
    for proc in started:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def start_server(cwd: Path, env: dict[str, str], started: list[subprocess.Popen[str]]) -> str:
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "imagine_gateway.cli.main", "serve", "--port", str(port)],
        cwd=cwd,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    started.append(proc)
    base_url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{base_url}/api/v1/models", timeout=1).status_code == 200:
                return base_url
        except httpx.TransportError:
            time.sleep(0.1)
    raise AssertionError("the server did not start")


@pytest.mark.parametrize(
    ("environ", "expected"),
    [
        ({"HOME": "/home/ada"}, "/home/ada/.local/share/imagine-gateway"),
        ({"HOME": "/home/ada", "XDG_DATA_HOME": "/data/ada"}, "/data/ada/imagine-gateway"),
        ({"HOME": "/home/ada", "XDG_DATA_HOME": ""}, "/home/ada/.local/share/imagine-gateway"),
        # The XDG Base Directory rule: a relative path is invalid and ignored.
        ({"HOME": "/home/ada", "XDG_DATA_HOME": "data"}, "/home/ada/.local/share/imagine-gateway"),
    ],
)
def test_the_default_home_is_the_per_user_data_directory(environ: dict[str, str], expected: str) -> None:
    assert default_home(environ) == Path(expected)


def test_imagine_home_still_overrides_the_default(tmp_path: Path) -> None:
    runner = CliRunner()
    env = {"HOME": str(tmp_path / "user"), "XDG_DATA_HOME": None, "IMAGINE_HOME": str(tmp_path / "elsewhere")}
    result = runner.invoke(app, ["keys", "create", "--name", "ops"], env=env)
    assert result.exit_code == 0, result.output
    assert result.stderr.splitlines()[0] == f"database: {tmp_path / 'elsewhere' / 'imagine.db'}"
    assert not (tmp_path / "user").exists()


def test_a_key_created_in_one_directory_reaches_a_server_started_in_another(
    tmp_path: Path, serve: list[subprocess.Popen[str]]
) -> None:
    user_home, project, elsewhere = tmp_path / "home", tmp_path / "project", tmp_path / "elsewhere"
    for folder in (user_home, project, elsewhere):
        folder.mkdir()
    env = user_env(user_home)
    made = imagine("keys", "create", "--name", "demo", "--credits", "7", cwd=project, env=env)
    assert made.returncode == 0, made.stderr
    database = user_home / ".local" / "share" / "imagine-gateway" / "imagine.db"
    assert made.stderr.splitlines() == [f"database: {database}", NEW_DATABASE_WARNING]
    secret = made.stdout.strip().splitlines()[-1]

    base_url = start_server(elsewhere, env, serve)
    credits = httpx.get(f"{base_url}/api/v1/credits", headers={"Authorization": f"Bearer {secret}"})
    assert (credits.status_code, credits.json()["balance"]) == (200, 7)
    assert [p.name for p in project.iterdir()] + [p.name for p in elsewhere.iterdir()] == []


def test_xdg_data_home_places_the_database_for_every_command(tmp_path: Path) -> None:
    env = user_env(tmp_path / "home", XDG_DATA_HOME=str(tmp_path / "xdg"))
    (tmp_path / "home").mkdir()
    made = imagine("keys", "create", "--name", "shop", cwd=tmp_path, env=env)
    assert made.stderr.splitlines()[0] == f"database: {tmp_path / 'xdg' / 'imagine-gateway' / 'imagine.db'}"
    assert not (tmp_path / "home" / ".local").exists()


def run_with_home(runner: CliRunner, home: Path, *args: str) -> Result:
    return runner.invoke(
        app, list(args), env={"HOME": str(home), "XDG_DATA_HOME": None, "IMAGINE_HOME": None}
    )


def test_commands_that_use_the_database_name_it_and_warn_only_when_they_created_it(tmp_path: Path) -> None:
    runner = CliRunner()
    database = tmp_path / ".local" / "share" / "imagine-gateway" / "imagine.db"
    listed = run_with_home(runner, tmp_path, "keys", "list", "--json")
    assert (listed.exit_code, listed.stdout, listed.stderr.splitlines()) == (
        0,
        "[]\n",
        [f"database: {database}", NEW_DATABASE_WARNING],
    )
    made = run_with_home(runner, tmp_path, "keys", "create", "--name", "shop")
    assert (made.exit_code, made.stderr) == (0, f"database: {database}\n")
    key_id = made.stdout.splitlines()[1].split()[1]
    for args in (
        ("credits", "topup", "shop", "5"),
        ("credits", "show", "shop"),
        ("keys", "revoke", key_id),
        ("db", "upgrade"),
    ):
        result = run_with_home(runner, tmp_path, *args)
        assert (result.exit_code, result.stderr) == (0, f"database: {database}\n"), args


def test_a_failed_command_prints_only_its_error(tmp_path: Path) -> None:
    result = run_with_home(CliRunner(), tmp_path, "credits", "topup", "nobody", "5")
    assert (result.exit_code, result.stdout, result.stderr) == (
        1,
        "",
        "error not_found: No single account is called 'nobody'.\n",
    )


def test_a_fresh_home_gets_the_warning_from_whichever_command_creates_the_database(tmp_path: Path) -> None:
    result = run_with_home(CliRunner(), tmp_path, "db", "upgrade")
    database = tmp_path / ".local" / "share" / "imagine-gateway" / "imagine.db"
    assert (result.exit_code, result.stderr.splitlines()) == (
        0,
        [f"database: {database}", NEW_DATABASE_WARNING],
    )


def test_a_database_url_is_named_without_its_password() -> None:
    settings = load_settings(database_url="postgresql+asyncpg://ops:s3cret@127.0.0.1:5432/imagine")
    assert database_label(settings) == "postgresql+asyncpg://ops:***@127.0.0.1:5432/imagine"


def test_a_database_left_in_dot_imagine_by_the_earlier_default_is_pointed_out(tmp_path: Path) -> None:
    (tmp_path / "home").mkdir()
    project = tmp_path / "project"
    project.mkdir()
    earlier = imagine("db", "upgrade", cwd=project, env=user_env(tmp_path / "home", IMAGINE_HOME=".imagine"))
    assert earlier.returncode == 0, earlier.stderr
    made = imagine("keys", "create", cwd=project, env=user_env(tmp_path / "home"))
    database = tmp_path / "home" / ".local" / "share" / "imagine-gateway" / "imagine.db"
    assert made.stderr.splitlines() == [
        f"database: {database}",
        NEW_DATABASE_WARNING,
        f"note: {project / '.imagine'} holds the database of an earlier default location; "
        f"set IMAGINE_HOME={project / '.imagine'} to go on using it",
    ]
