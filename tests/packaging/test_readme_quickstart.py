"""The README's quick start, run exactly as written, so that it cannot drift from what works.

The block is read from README.md and run by bash in an empty directory; it starts `imagine serve` in
the background itself. The environment points it at a free port and a fresh state directory through
the variables the README documents (`IMAGINE_PORT`, `IMAGINE_HOME`, `IMAGINE_SANDBOX_LATENCY_S`).
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from imagine_gateway.catalog.loader import load_catalog

REPO = Path(__file__).resolve().parents[2]
QUICK_START_HEADING = "## First generation in one minute"
RUN_TIMEOUT_S = 150

pytestmark = [
    pytest.mark.slow,
    pytest.mark.timeout(RUN_TIMEOUT_S + 60),
    pytest.mark.skipif(
        shutil.which("jq") is None or shutil.which("curl") is None,
        reason="the quick start needs curl and jq (apt-get install -y curl jq)",
    ),
]


def quick_start_block() -> str:
    """The first bash block under the quick start's heading in README.md."""
    readme = (REPO / "README.md").read_text()
    section = readme[readme.index(QUICK_START_HEADING) :]
    found = re.search(r"```bash\n(.*?)```", section, re.DOTALL)
    assert found is not None, "no bash block under the quick start heading"
    return found.group(1)


def test_the_quick_start_asks_nothing_to_be_pasted_by_hand_and_starts_the_server_once() -> None:
    block = quick_start_block()
    assert re.findall(r"<[\w. -]+>", block) == []  # no <id> or <url> placeholders
    assert block.count("imagine serve") == 1
    assert re.search(r"imagine serve\b[^\n]*&\s*(#.*)?$", block, re.MULTILINE)  # in the background


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _imagine_on_path(bin_dir: Path) -> None:
    """`imagine` as this interpreter and this checkout run it (the environment under test)."""
    bin_dir.mkdir()
    shim = bin_dir / "imagine"
    shim.write_text(f'#!/bin/sh\nexec "{sys.executable}" -m imagine_gateway.cli.main "$@"\n')
    shim.chmod(0o755)


def test_the_readme_quick_start_runs_as_pasted(tmp_path: Path) -> None:
    _imagine_on_path(tmp_path / "bin")
    work = tmp_path / "work"
    work.mkdir()
    port = free_port()
    env = {
        **os.environ,
        "PATH": f"{tmp_path / 'bin'}{os.pathsep}{os.environ['PATH']}",
        "IMAGINE_PORT": str(port),
        "IMAGINE_HOME": str(tmp_path / "home"),
        "IMAGINE_SANDBOX_LATENCY_S": "0.5",
    }
    for name in ("IMAGINE_API_KEY", "IMAGINE_BASE_URL", "IMAGINE_PUBLIC_BASE_URL", "XAI_API_KEY"):
        env.pop(name, None)
    # -e and pipefail: a line that fails stops the run there, where a person would see it fail.
    shell = subprocess.Popen(
        ["bash", "-euo", "pipefail", "-c", quick_start_block()],
        cwd=work,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,  # the background server joins this process group, which is ended below
    )
    try:
        stdout, stderr = shell.communicate(timeout=RUN_TIMEOUT_S)
    finally:
        _end_group(shell.pid)
    assert shell.returncode == 0, f"stdout:\n{stdout}\nstderr:\n{stderr}\nlog:\n{_log(work)}"

    lines = stdout.splitlines()
    model_ids = [model.id for model in load_catalog()]
    assert lines[: len(model_ids)] == model_ids
    summary = "\n".join(lines[len(model_ids) :])
    assert re.fullmatch(
        r'\{\n  "id": "task_[\w-]+",\n  "status": "succeeded",\n  "final_credits": [1-9]\d*,\n'
        rf'  "url": "http://127\.0\.0\.1:{port}/media/\S+"\n\}}',
        summary,
    ), summary
    video = (work / "out.mp4").read_bytes()
    assert video[4:8] == b"ftyp"
    assert sorted(p.name for p in work.iterdir()) == ["imagine.log", "out.mp4"]
    assert f"Imagine Gateway on http://127.0.0.1:{port}" in _log(work)


def _log(work: Path) -> str:
    log = work / "imagine.log"
    return log.read_text() if log.exists() else "(no imagine.log)"


def _end_group(pgid: int) -> None:
    """Stop the background server the block started (and anything else left in its group)."""
    for sig, grace_s in ((signal.SIGTERM, 10.0), (signal.SIGKILL, 5.0)):
        try:
            os.killpg(pgid, sig)
        except ProcessLookupError:
            return
        deadline = time.monotonic() + grace_s
        while time.monotonic() < deadline:
            try:
                os.killpg(pgid, 0)
            except ProcessLookupError:
                return
            time.sleep(0.1)
