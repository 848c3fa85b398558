"""Native API benchmark: create -> succeeded time on the sandbox engine, and GET task throughput.

Baseline in the same run: a bare Starlette app on the same uvicorn returning a task-sized JSON body,
so the number shows what auth + rate limit + the SQLite reads add per request. The load comes from
`wrk` (Debian package) in its own process when it is installed, since an in-process httpx client
with many connections measures itself more than the server; otherwise from httpx.

    python bench/native_api.py [--requests 3000] [--concurrency 32] [--seconds 10]
"""

from __future__ import annotations

import argparse
import asyncio
import re
import shutil
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

import httpx
from starlette.applications import Starlette
from starlette.responses import JSONResponse
from starlette.routing import Route

from imagine_gateway.api.app import create_app
from imagine_gateway.services.accounts import NewKey, open_accounts
from imagine_gateway.settings import Settings, load_settings
from imagine_gateway.testing.loopback import LoopbackServer


async def hammer(url: str, headers: dict[str, str], n: int, concurrency: int) -> float:
    async with httpx.AsyncClient(limits=httpx.Limits(max_connections=concurrency)) as client:
        queue = list(range(n))

        async def one() -> None:
            while queue:
                queue.pop()
                response = await client.get(url, headers=headers)
                assert response.status_code == 200

        start = time.perf_counter()
        await asyncio.gather(*[one() for _ in range(concurrency)])
        return n / (time.perf_counter() - start)


def wrk(url: str, headers: dict[str, str], concurrency: int, seconds: int) -> float:
    """Requests per second measured by wrk (2 threads)."""
    args = ["wrk", "-t2", f"-c{concurrency}", f"-d{seconds}s", url]
    for name, value in headers.items():
        args[1:1] = ["-H", f"{name}: {value}"]
    out = subprocess.run(args, capture_output=True, text=True, check=True).stdout
    if "Non-2xx" in out:
        raise AssertionError(out)
    match = re.search(r"Requests/sec:\s+([0-9.]+)", out)
    assert match, out
    return float(match.group(1))


def load(url: str, headers: dict[str, str], args: argparse.Namespace) -> float:
    if shutil.which("wrk"):
        return wrk(url, headers, args.concurrency, args.seconds)
    return asyncio.run(hammer(url, headers, args.requests, args.concurrency))


async def _create_key(settings: Settings, *, credits: int) -> NewKey:
    async with open_accounts(settings) as accounts:
        return await accounts.create_key(name="bench", credits=credits)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=3000)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--seconds", type=int, default=10)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        home = Path(tmp)
        server = LoopbackServer()
        settings = load_settings(
            home=home,
            public_base_url=server.base_url,
            rate_limit="1000000/minute",
            sandbox_latency_s=3.0,
            worker_idle_poll_s=0.05,
        )
        server.app = create_app(settings)
        made = asyncio.run(_create_key(settings, credits=10_000))
        headers = {"Authorization": f"Bearer {made.secret}"}
        with server, httpx.Client(base_url=server.base_url, headers=headers, timeout=60) as http:
            for model, params in (
                ("grok-imagine", {}),
                ("grok-imagine-video", {"duration": 6}),
                ("grok-imagine-video", {"duration": 30, "resolution": "720p"}),
            ):
                times = []
                for _ in range(args.runs):
                    start = time.perf_counter()
                    task = http.post(
                        "/api/v1/generations", json={"model": model, "prompt": "bench", "params": params}
                    ).json()
                    while (body := http.get(f"/api/v1/generations/{task['id']}").json())["status"] not in (
                        "succeeded",
                        "failed",
                    ):
                        time.sleep(0.02)
                    assert body["status"] == "succeeded"
                    times.append(time.perf_counter() - start)
                print(
                    f"create->succeeded {model} {params}: median {statistics.median(times):.2f} s "
                    f"(simulated latency 3.00 s; min {min(times):.2f}, max {max(times):.2f}, n={args.runs})"
                )
            ours = load(f"{server.base_url}/api/v1/generations/{task['id']}", headers, args)
        sample = body

    async def bare(_request: object) -> JSONResponse:
        return JSONResponse(sample)

    with LoopbackServer(Starlette(routes=[Route("/t", bare)])) as baseline:
        base = load(f"{baseline.base_url}/t", {}, args)
    print(
        f"GET /api/v1/generations/{{id}}: {ours:.0f} req/s; bare Starlette same body: {base:.0f} req/s "
        f"({ours / base:.0%} of baseline; concurrency {args.concurrency}, "
        f"load from {'wrk, ' + str(args.seconds) + ' s' if shutil.which('wrk') else 'httpx in this process'})"
    )


if __name__ == "__main__":
    main()
