"""Upload benchmark: POST /api/v1/files with a ~10 MB PNG, time and server memory.

The gateway runs as its own process (``imagine serve``, SQLite + local storage), so the memory
sampled is the server's alone: peak RSS above its RSS just before the request. Baseline in the same
run: a bare Starlette endpoint on the same uvicorn that streams the same multipart body to a file,
without parsing, validation, decoding or storage. The client streams the file from disk.

    python bench/upload.py [--runs 5]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import httpx
from loopback import free_port, wait_for_port

SAMPLE_S = 0.002


async def _create_key(settings: Any, *, credits: int) -> Any:
    from imagine_gateway.services.accounts import open_accounts

    async with open_accounts(settings) as accounts:
        return await accounts.create_key(name="bench", credits=credits)


def rss_of(pid: int) -> int:
    with open(f"/proc/{pid}/status", encoding="ascii") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    raise RuntimeError("no VmRSS")


def noise_png(path: Path, limit_bytes: int) -> None:
    """An incompressible PNG just under ``limit_bytes``: worst case for decode and storage."""
    import numpy as np
    from PIL import Image

    side = 1800
    rng = np.random.default_rng(3)
    while True:
        Image.fromarray(rng.integers(0, 256, (side, side, 3), dtype=np.uint8)).save(
            path, "PNG", compress_level=1
        )
        if path.stat().st_size <= limit_bytes:
            return
        side -= 20


def serve_baseline(port: int, directory: str) -> None:
    """A bare endpoint that writes the request body to a file as it arrives."""
    import uvicorn
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import JSONResponse
    from starlette.routing import Route

    async def sink(request: Request) -> JSONResponse:
        size = 0
        handle = await asyncio.to_thread(open, os.path.join(directory, "body.bin"), "wb")
        with handle:
            async for chunk in request.stream():
                size += len(chunk)
                await asyncio.to_thread(handle.write, chunk)
        return JSONResponse({"size": size}, status_code=201)

    app = Starlette(routes=[Route("/api/v1/files", sink, methods=["POST"])])
    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning")


def one_upload(base: str, headers: dict[str, str], image: Path, pid: int) -> tuple[float, int]:
    """Seconds for one upload, and the server's peak RSS growth during it."""
    start_rss = peak = rss_of(pid)
    stop = threading.Event()

    def sample() -> None:
        nonlocal peak
        while not stop.is_set():
            peak = max(peak, rss_of(pid))
            time.sleep(SAMPLE_S)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    with image.open("rb") as handle:
        start = time.perf_counter()
        response = httpx.post(
            base + "/api/v1/files",
            headers=headers,
            data={"kind": "image"},
            files={"file": ("noise.png", handle, "image/png")},
            timeout=60,
        )
        seconds = time.perf_counter() - start
    stop.set()
    sampler.join()
    assert response.status_code == 201, response.text
    return seconds, max(peak, rss_of(pid)) - start_rss


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--baseline-server", nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.baseline_server:
        serve_baseline(int(args.baseline_server[0]), args.baseline_server[1])
        return
    from imagine_gateway.settings import load_settings

    with tempfile.TemporaryDirectory() as tmp:
        image = Path(tmp) / "noise.png"
        noise_png(image, 10 * 1024 * 1024)
        home = Path(tmp) / "home"
        gw_port, base_port = free_port(), free_port()
        env = {
            **os.environ,
            "IMAGINE_HOME": str(home),
            "IMAGINE_RATE_LIMIT": "100000/minute",
            "IMAGINE_LOG_LEVEL": "warning",
        }
        made = asyncio.run(_create_key(load_settings(home=home), credits=0))
        gateway = subprocess.Popen(
            [
                sys.executable,
                "-c",
                "from imagine_gateway.cli.main import app; app()",
                "serve",
                "--port",
                str(gw_port),
                "--no-worker",
            ],
            env=env,
            stdout=subprocess.DEVNULL,
        )
        baseline = subprocess.Popen([sys.executable, __file__, "--baseline-server", str(base_port), tmp])
        try:
            gw, bl = f"http://127.0.0.1:{gw_port}", f"http://127.0.0.1:{base_port}"
            wait_for_port(gw_port, timeout_s=30)
            wait_for_port(base_port, timeout_s=30)
            headers = {"Authorization": f"Bearer {made.secret}"}
            size = image.stat().st_size
            # The first upload into a fresh server: imports, first connections, and the allocator's
            # first growth (Pillow's decoded pixels); later uploads reuse that memory.
            first = one_upload(gw, headers, image, gateway.pid), one_upload(bl, {}, image, baseline.pid)
            ours, bare = [], []
            for _ in range(args.runs):
                ours.append(one_upload(gw, headers, image, gateway.pid))
                bare.append(one_upload(bl, {}, image, baseline.pid))
        finally:
            gateway.terminate()
            baseline.terminate()
            gateway.wait()
            baseline.wait()
    mib = 1024 * 1024
    print(f"image: {size} bytes, PNG of noise; {args.runs} runs each after a first upload; medians")
    named = (
        ("POST /api/v1/files", ours, first[0]),
        ("baseline (bare body-to-file endpoint)", bare, first[1]),
    )
    for name, results, (first_s, first_rss) in named:
        print(
            f"{name}: {statistics.median(r[0] for r in results) * 1000:.0f} ms, server peak RSS growth "
            f"{statistics.median(r[1] for r in results) / mib:.1f} MiB; "
            f"first upload {first_s * 1000:.0f} ms, {first_rss / mib:.1f} MiB"
        )


if __name__ == "__main__":
    main()
