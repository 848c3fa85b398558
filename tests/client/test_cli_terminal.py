"""`imagine generate` in a real terminal (tmux): the live progress line, and Ctrl-C offering to cancel."""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import Gateway, Key, start_gateway

pytestmark = pytest.mark.skipif(
    shutil.which("tmux") is None, reason="tmux is not installed (apt-get install -y tmux)"
)

# e.g. "⠋ task_AbC... processing ━━━━━━━━━━━━━━━━━━━╸━━━━━━━━  40% 0:00:02"
PROGRESS_LINE = re.compile(r"task_\S{20} (queued|processing) .*\d+% \d:\d\d:\d\d")


class Terminal:
    """A detached tmux session running one command, read by capturing its pane."""

    def __init__(self, command: list[str], env: dict[str, str]) -> None:
        self.name = f"imagine-test-{uuid.uuid4().hex[:8]}"
        exports = " ".join(f"{k}={shlex.quote(v)}" for k, v in env.items())
        script = f"{exports} {shlex.join(command)}; echo EXIT=$?; sleep 60"
        subprocess.run(
            ["tmux", "new-session", "-d", "-s", self.name, "-x", "120", "-y", "30", script], check=True
        )

    def screen(self) -> str:
        return subprocess.run(
            ["tmux", "capture-pane", "-p", "-t", self.name], check=True, capture_output=True, text=True
        ).stdout

    def wait_for(self, pattern: str | re.Pattern[str], timeout_s: float = 20.0) -> str:
        deadline = time.monotonic() + timeout_s
        while True:
            screen = self.screen()
            if re.search(pattern, screen):
                return screen
            if time.monotonic() > deadline:
                raise AssertionError(f"{pattern!r} never appeared; the screen shows:\n{screen}")
            time.sleep(0.05)

    def send(self, *keys: str) -> None:
        subprocess.run(["tmux", "send-keys", "-t", self.name, *keys], check=True)

    def close(self) -> None:
        subprocess.run(["tmux", "kill-session", "-t", self.name], check=False, capture_output=True)


@pytest.fixture
def terminal() -> Iterator[list[Terminal]]:
    opened: list[Terminal] = []
    yield opened
    for term in opened:
        term.close()


@pytest.fixture(scope="module")
def visible_gateway(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Gateway]:
    """Generations take ~2.5 s (the first poll comes after 2 s): long enough to watch the bar."""
    gateway = start_gateway(tmp_path_factory.mktemp("visible"), sandbox_latency_s=1.5)
    yield gateway
    gateway.http.close()
    gateway.server.stop()


@pytest.fixture
def key(visible_gateway: Gateway) -> Key:
    return visible_gateway.key(credits=100)


def imagine(*args: str) -> list[str]:
    return [sys.executable, "-m", "imagine_gateway.cli.main", *args]


def test_generate_shows_status_progress_and_elapsed_time_then_the_path(
    visible_gateway: Gateway, key: Key, terminal: list[Terminal], tmp_path: Path
) -> None:
    env = {"IMAGINE_BASE_URL": visible_gateway.base_url, "IMAGINE_API_KEY": key.secret}
    term = Terminal(imagine("generate", "video", "A paper boat", "-o", str(tmp_path)), env)
    terminal.append(term)
    during = term.wait_for(r"task_\S{20} processing .*\d+% 0:00:0[1-9]")  # status, bar and elapsed time
    print("\n--- pane while running ---\n" + during.rstrip())
    assert re.search(r"created task_\S{20} \(10 credits reserved\)", during)
    after = term.wait_for(r"EXIT=\d+")
    print("--- pane at the end ---\n" + after.rstrip())
    assert "EXIT=0" in after
    saved = list(tmp_path.glob("task_*.mp4"))
    assert len(saved) == 1 and str(saved[0]) in after.replace("\n", "")


def test_ctrl_c_offers_to_cancel_and_cancels_the_task(
    slow_gateway: Gateway, terminal: list[Terminal]
) -> None:
    key = slow_gateway.key(credits=100)
    env = {"IMAGINE_BASE_URL": slow_gateway.base_url, "IMAGINE_API_KEY": key.secret}
    term = Terminal(imagine("generate", "video", "Too slow"), env)
    terminal.append(term)
    term.wait_for(PROGRESS_LINE)
    term.send("C-c")
    prompt = term.wait_for(r"Cancel task task_\S{20}\?")
    task_id = re.search(r"Cancel task (task_\S{20})\?", prompt).group(1)  # type: ignore[union-attr]
    term.send("y", "Enter")
    end = term.wait_for(r"EXIT=\d+")
    assert f"canceled {task_id}; its credits were released" in end and "EXIT=130" in end
    task = slow_gateway.http.get(f"/api/v1/generations/{task_id}", headers=key.headers).json()
    assert task["status"] == "canceled"


def test_tasks_wait_shows_the_same_progress_and_exits_1_when_the_task_is_canceled(
    slow_gateway: Gateway, terminal: list[Terminal]
) -> None:
    key = slow_gateway.key(credits=100)
    created = slow_gateway.http.post(
        "/api/v1/generations", headers=key.headers, json={"model": "grok-imagine-video", "prompt": "A kite"}
    ).json()
    env = {"IMAGINE_BASE_URL": slow_gateway.base_url, "IMAGINE_API_KEY": key.secret}
    term = Terminal(imagine("tasks", "wait", created["id"]), env)
    terminal.append(term)
    during = term.wait_for(rf"{created['id']} (queued|processing) .*\d+% \d:\d\d:\d\d")
    print("\n--- pane while waiting ---\n" + during.rstrip())
    canceled = slow_gateway.http.post(f"/api/v1/generations/{created['id']}/cancel", headers=key.headers)
    assert canceled.status_code == 200
    after = term.wait_for(r"EXIT=\d+")
    print("--- pane at the end ---\n" + after.rstrip())
    assert "error canceled: The task was canceled by the client." in after and "EXIT=1" in after


def test_tab_completes_commands_in_bash(tmp_path: Path, terminal: list[Terminal]) -> None:
    # `imagine` on PATH, as an installed entry point would put it.
    launcher = tmp_path / "bin" / "imagine"
    launcher.parent.mkdir()
    launcher.write_text(f'#!/bin/sh\nexec {shlex.quote(sys.executable)} -m imagine_gateway.cli.main "$@"\n')
    launcher.chmod(0o755)
    env = {"PATH": f"{launcher.parent}:{os.environ['PATH']}", "PS1": "$ "}
    term = Terminal(["bash", "--norc", "--noprofile", "-i"], env)
    terminal.append(term)
    term.send('eval "$(imagine --show-completion bash)"', "Enter")
    term.send("echo LOADED", "Enter")
    term.wait_for(r"(?m)^LOADED$")
    term.send("imagine tasks wa", "Tab")
    term.send(" --ti", "Tab")
    screen = term.wait_for(r"(?m)^\$ imagine tasks wait\s+--timeout\s*$")
    print("\n--- pane after Tab ---\n" + screen.rstrip())
