"""Native API benchmark: create -> succeeded time on the sandbox engine, and GET task throughput.

Baseline in the same run: a bare Starlette app on the same uvicorn returning a task-sized JSON body,
so the number shows what auth + rate limit + the SQLite read add per request.

    python bench/native_api.py [--requests 3000] [--concurrency 32]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
from pathlib import Path

import httpx
from starlette.applications import Starlette
from starlette.responses import JSONResponse
from starlette.routing import Route

from imagine_gateway.api.app import create_app
from imagine_gateway.cli import admin
from imagine_gateway.settings import load_settings
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


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=3000)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--runs", type=int, default=5)
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
        made = asyncio.run(
            admin.create_key(
                settings,
                name="bench",
                account_ref=None,
                credits=10_000,
                scopes=None,
                expires_in_s=None,
                rate_limit=None,
            )
        )
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
            ours = asyncio.run(
                hammer(
                    f"{server.base_url}/api/v1/generations/{task['id']}",
                    headers,
                    args.requests,
                    args.concurrency,
                )
            )
        sample = body

    async def bare(_request: object) -> JSONResponse:
        return JSONResponse(sample)

    with LoopbackServer(Starlette(routes=[Route("/t", bare)])) as baseline:
        base = asyncio.run(hammer(f"{baseline.base_url}/t", {}, args.requests, args.concurrency))
    print(
        f"GET /api/v1/generations/{{id}}: {ours:.0f} req/s; bare Starlette same body: {base:.0f} req/s "
        f"({ours / base:.0%} of baseline; {args.requests} requests, concurrency {args.concurrency}, "
        "client in the same process)"
    )


if __name__ == "__main__":
    main()
