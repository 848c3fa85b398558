"""`imagine --version`, readable help on every command, and shell completion."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import typer
from typer.testing import CliRunner

from imagine_gateway import __version__
from imagine_gateway.cli.main import app


def command_paths(command: Any, path: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    """Every command and group of the app, as the words that name it."""
    found = [path]
    if hasattr(command, "commands"):
        for name, sub in sorted(command.commands.items()):
            found += command_paths(sub, (*path, name))
    return found


ALL_COMMANDS = command_paths(typer.main.get_command(app))


def imagine(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "imagine_gateway.cli.main", *args],
        env={**os.environ, **(env or {})},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_version_prints_the_package_version() -> None:
    result = CliRunner().invoke(app, ["--version"])
    assert (result.exit_code, result.stdout) == (0, f"imagine-gateway {__version__}\n")


def test_every_command_is_reached_by_the_help_walk() -> None:
    assert {" ".join(p) for p in ALL_COMMANDS} >= {
        "",
        "generate video",
        "tasks wait",
        "keys create",
        "credits topup",
        "db upgrade",
        "serve",
        "files upload",
    }


@pytest.mark.parametrize("path", ALL_COMMANDS, ids=lambda p: " ".join(p) or "imagine")
def test_help_names_values_plainly(path: tuple[str, ...]) -> None:
    result = CliRunner().invoke(app, [*path, "--help"], prog_name="imagine", terminal_width=100)
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith(f"Usage: imagine {' '.join(path)}".rstrip() + " ")
    for typer_label in ("<bool>", "<list[", "<Path>"):
        assert typer_label not in result.stdout, f"{typer_label} in the help of {path}"


def test_generate_help_shows_each_option_with_a_readable_value_name() -> None:
    shown = CliRunner().invoke(app, ["generate", "video", "--help"], terminal_width=200).stdout
    option_column = [line.strip().split("  ")[0] for line in shown.splitlines() if line.startswith("  -")]
    assert option_column == [
        "--model MODEL",
        "-p, --param KEY=VALUE",
        "--ref FILE",
        "-o, --output PATH",
        "--no-wait",
        "--timeout SECONDS",
        "--json",
        "--base-url URL",
        "--api-key KEY",
        "--help",
    ]


def test_the_top_level_help_offers_version_and_completion() -> None:
    options = CliRunner().invoke(app, ["--help"]).stdout.split("Options:")[1].split("Commands:")[0]
    assert [line.split()[0] for line in options.splitlines() if line.startswith("  --")] == [
        "--version",
        "--install-completion",
        "--show-completion",
        "--help",
    ]


def test_show_completion_prints_a_bash_script_for_imagine() -> None:
    result = imagine("--show-completion", "bash")
    assert result.returncode == 0, result.stderr
    assert "complete -o default -F _imagine_completion imagine" in result.stdout
    assert "_IMAGINE_COMPLETE=complete_bash" in result.stdout


@pytest.mark.parametrize(
    ("words", "expected"),
    [
        ("imagine tas", ["tasks"]),
        ("imagine tasks w", ["wait"]),
        ("imagine generate ", ["image", "video"]),
        ("imagine tasks wait --ti", ["--timeout"]),
    ],
)
def test_bash_completion_completes_commands_and_options(words: str, expected: list[str]) -> None:
    cword = len(words.split()) - (0 if words.endswith(" ") else 1)
    result = imagine(
        env={"_IMAGINE_COMPLETE": "complete_bash", "COMP_WORDS": words, "COMP_CWORD": str(cword)}
    )
    assert (result.returncode, result.stdout.split()) == (0, expected)


def test_install_completion_writes_the_script_and_sources_it_from_bashrc(tmp_path: Path) -> None:
    result = imagine("--install-completion", "bash", env={"HOME": str(tmp_path), "SHELL": "/bin/bash"})
    assert result.returncode == 0, result.stderr
    script = tmp_path / ".bash_completions" / "imagine.sh"
    assert "_imagine_completion" in script.read_text()
    assert f"source '{script}'" in (tmp_path / ".bashrc").read_text()
