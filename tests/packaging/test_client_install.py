"""`pip install imagine-gateway` alone: the SDK and the client commands, without the server.

The client is installed from this checkout into a fresh virtual environment (pip fetches httpx,
pydantic and the CLI libraries from the configured package index) and used against a live gateway
that this test process runs on loopback.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.conftest import Gateway

REPO = Path(__file__).resolve().parents[2]
INSTALL_TIMEOUT_S = 420
# Distributions of the `server` extra: none of them may come with the client.
SERVER_DISTRIBUTIONS = {
    "fastapi",
    "starlette",
    "uvicorn",
    "pydantic-settings",
    "sqlalchemy",
    "alembic",
    "aiosqlite",
    "asyncpg",
    "psycopg",
    "aiohttp",
    "pillow",
    "av",
    "limits",
    "redis",
    "standardwebhooks",
    "prometheus-client",
    "python-multipart",
    "boto3",
    "botocore",
    "numpy",
}
# The installed client, its dependencies included, bytecode included; the server install is ~300 MB.
CLIENT_MAX_BYTES = 40 * 1024 * 1024

pytestmark = [pytest.mark.slow, pytest.mark.timeout(INSTALL_TIMEOUT_S + 120)]


@dataclass
class ClientEnv:
    root: Path

    @property
    def python(self) -> Path:
        return self.root / "bin" / "python"

    @property
    def imagine(self) -> Path:
        return self.root / "bin" / "imagine"

    def environ(self, **extra: str) -> dict[str, str]:
        """The caller's environment without anything that would reach this checkout's interpreter."""
        env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV")}
        env["PATH"] = f"{self.root / 'bin'}{os.pathsep}{env.get('PATH', '')}"
        return {**env, **extra}


def _copy_checkout(into: Path) -> Path:
    """The files a build needs, without caches or build output left in the working tree."""
    source = into / "imagine-gateway"
    source.mkdir()
    for name in ("pyproject.toml", "README.md", "LICENSE"):
        if (REPO / name).exists():
            shutil.copy2(REPO / name, source / name)
    shutil.copytree(
        REPO / "src", source / "src", ignore=shutil.ignore_patterns("__pycache__", "*.egg-info", "*.pyc")
    )
    return source


@pytest.fixture(scope="module")
def client_env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ClientEnv]:
    work = tmp_path_factory.mktemp("client-install")
    source = _copy_checkout(work)
    env = ClientEnv(work / "venv")
    subprocess.run([sys.executable, "-m", "venv", str(env.root)], check=True, timeout=120)
    installed = subprocess.run(
        [str(env.python), "-m", "pip", "install", "--quiet", "--disable-pip-version-check", str(source)],
        capture_output=True,
        text=True,
        timeout=INSTALL_TIMEOUT_S,
        env=env.environ(),
    )
    assert installed.returncode == 0, installed.stderr
    yield env


def _run(env: ClientEnv, *args: str, **extra_env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        list(args), capture_output=True, text=True, timeout=120, env=env.environ(**extra_env), check=False
    )


INSTALLED = textwrap.dedent(
    """
    import json
    from importlib import metadata
    from pathlib import Path
    rows = []
    for dist in metadata.distributions():
        name = dist.metadata["Name"].lower().replace("_", "-")
        if name in ("pip", "setuptools", "wheel"):
            continue
        paths = [Path(str(dist.locate_file(f))) for f in dist.files or ()]
        size = sum(path.stat().st_size for path in paths if path.exists())
        rows.append([name, size])
    print(json.dumps(rows))
    """
)


def test_the_client_installs_without_any_server_dependency(client_env: ClientEnv) -> None:
    listed = _run(client_env, str(client_env.python), "-c", INSTALLED)
    assert listed.returncode == 0, listed.stderr
    sizes = {name: size for name, size in json.loads(listed.stdout)}
    assert {"imagine-gateway", "httpx", "pydantic", "typer", "rich"} <= sizes.keys()
    assert sizes.keys() & SERVER_DISTRIBUTIONS == set()
    total = sum(sizes.values())
    assert total < CLIENT_MAX_BYTES, sorted(sizes.items(), key=lambda row: -row[1])


def test_the_installed_sdk_runs_a_generation_against_a_live_gateway(
    client_env: ClientEnv, gateway: Gateway, tmp_path: Path
) -> None:
    key = gateway.key(credits=100)
    script = textwrap.dedent(
        """
        import sys
        from imagine_gateway import Client
        with Client(base_url=sys.argv[1], api_key=sys.argv[2]) as client:
            task = client.generations.create("grok-imagine", "A lighthouse at dusk")
            done = client.generations.wait(task.id, timeout_s=60)
            print(done.status)
            print(client.generations.download(done.id, sys.argv[3]))
        """
    )
    into = tmp_path / "out"
    into.mkdir()
    ran = _run(client_env, str(client_env.python), "-c", script, gateway.base_url, key.secret, str(into))
    assert ran.returncode == 0, ran.stderr
    status, path = ran.stdout.split()
    assert status == "succeeded"
    assert Path(path).parent == into
    assert Path(path).read_bytes().startswith(b"\x89PNG\r\n\x1a\n")


def test_the_installed_cli_generates_and_downloads_with_the_client_commands(
    client_env: ClientEnv, gateway: Gateway, tmp_path: Path
) -> None:
    key = gateway.key(credits=100)

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return _run(
            client_env,
            str(client_env.imagine),
            *args,
            IMAGINE_BASE_URL=gateway.base_url,
            IMAGINE_API_KEY=key.secret,
        )

    models = run("models", "--json")
    assert models.returncode == 0, models.stderr
    served = gateway.http.get("/api/v1/models").json()["data"]
    assert [m["id"] for m in json.loads(models.stdout)] == [m["id"] for m in served]
    into = tmp_path / "out"
    into.mkdir()
    generated = run("generate", "image", "A red kite", "-o", str(into))
    assert generated.returncode == 0, generated.stderr
    written = Path(generated.stdout.strip())
    assert (written.parent, written.suffix) == (into, ".png")
    assert written.read_bytes().startswith(b"\x89PNG\r\n\x1a\n")


@pytest.mark.parametrize(
    "command",
    [
        ["serve"],
        ["worker"],
        ["db", "upgrade"],
        ["keys", "create", "--name", "demo"],
        ["credits", "show", "acct"],
        ["mock-upstream", "xai"],
    ],
    ids=lambda command: command[0],
)
def test_a_server_command_says_how_to_install_the_server_and_exits_2(
    client_env: ClientEnv, command: list[str], tmp_path: Path
) -> None:
    ran = _run(client_env, str(client_env.imagine), *command, IMAGINE_HOME=str(tmp_path / "home"))
    assert ran.returncode == 2
    assert ran.stdout == ""
    assert ran.stderr.startswith(
        f"imagine {command[0]} needs the server: pip install 'imagine-gateway[server]' (not installed: "
    )
    assert "Traceback" not in ran.stderr
    assert list(tmp_path.iterdir()) == []  # nothing created


def test_a_server_commands_help_still_shows_without_the_server(client_env: ClientEnv) -> None:
    ran = _run(client_env, str(client_env.imagine), "serve", "--help")
    assert ran.returncode == 0, ran.stderr
    assert "Run the gateway" in ran.stdout
