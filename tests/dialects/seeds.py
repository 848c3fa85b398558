"""Running the seeds' own examples against a gateway: curl scripts and Python programs, verbatim.

The files in ``seed_examples/`` are the seeds' code blocks. The scraped seed text lost the line
structure (indentation, and the line break after a ``\\``); the files restore it, and
``test_seed_examples_are_the_seed_text`` checks that their tokens are exactly the seed's. When a file
is run, only the base URL, the API key and example ids/URLs (task ids, the image URL) are replaced.
"""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from PIL import Image

from tests.conftest import Gateway, Key

SEED_EXAMPLES = Path(__file__).parent / "seed_examples"
SEEDS = Path("/work/shared/seeds")


def seed_example(name: str, replacements: dict[str, str]) -> str:
    """The example's text with each placeholder replaced (every one must occur)."""
    text = (SEED_EXAMPLES / name).read_text(encoding="utf-8")
    for old, new in replacements.items():
        assert old in text, f"{old!r} does not occur in {name}"
        text = text.replace(old, new)
    return text


def _env() -> dict[str, str]:
    env = dict(os.environ)
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy", "all_proxy"):
        env.pop(name, None)
    env["NO_PROXY"] = env["no_proxy"] = "127.0.0.1,localhost"
    return env


def run_curl(name: str, replacements: dict[str, str]) -> Any:
    """Run a seed's curl example with the real ``curl`` binary; its stdout parsed as JSON."""
    script = seed_example(name, replacements)
    done = subprocess.run(
        ["bash", "-c", script], capture_output=True, text=True, timeout=30, env=_env(), check=True
    )
    return json.loads(done.stdout)


def start_python(path: Path, *, cwd: Path) -> subprocess.Popen[str]:
    """Start a seed's Python program (with the ``requests`` package it imports)."""
    return subprocess.Popen(
        [sys.executable, str(path)],
        cwd=cwd,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=_env(),
    )


def png_bytes(width: int = 64, height: int = 48) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (width, height), (30, 120, 200)).save(buffer, format="PNG")
    return buffer.getvalue()


def uploaded_image_url(gateway: Gateway, key: Key) -> str:
    """A reference image uploaded through the Files API: the URL dialect bodies may name."""
    response = gateway.http.post(
        "/api/v1/files",
        headers=key.headers,
        data={"kind": "image"},
        files={"file": ("landscape.png", png_bytes(), "image/png")},
    )
    assert response.status_code == 201, response.text
    url: str = response.json()["url"]
    return url


def poll_until(gateway: Gateway, path: str, key: Key, *, done: Any, timeout_s: float = 30.0) -> list[Any]:
    """GET ``path`` every 50 ms until ``done(response)``; every response seen, the last one done."""
    import time

    seen = []
    deadline = time.monotonic() + timeout_s
    while True:
        response = gateway.http.get(path, headers=key.headers)
        seen.append(response)
        if done(response):
            return seen
        assert time.monotonic() < deadline, f"{path} not done after {timeout_s} s: {response.text}"
        time.sleep(0.05)
