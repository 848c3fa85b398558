"""Upstream HTTP client benchmark: client CPU per poll-sized request, aiohttp (what the providers use)
against httpx (the baseline: what they used before), in the same run against the same server.

The server is a bare ASGI app under uvicorn in a child process answering every GET like a pending
xAI poll (202 with a small JSON body), so only the client's cost differs. Each client keeps
``--in-flight`` requests going (64, a provider's default ``max_concurrency``) and parses each body.

    python bench/upstream_client.py [--requests 20000] [--in-flight 64] [--runs 3]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import subprocess
import sys
import time
from typing import Any

from loopback import free_port, wait_for_port

BODY = b'{"status":"pending","progress":40}'


async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    if scope["type"] != "http":
        return
    await send(
        {
            "type": "http.response.start",
            "status": 202,
            "headers": [(b"content-type", b"application/json"), (b"content-length", b"%d" % len(BODY))],
        }
    )
    await send({"type": "http.response.body", "body": BODY})


def serve(port: int) -> None:
    import uvicorn

    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning", access_log=False, backlog=4096)


async def with_httpx(url: str, requests: int, in_flight: int) -> None:
    import httpx

    # As the providers used it: pools of 4 connections, each request to one of them.
    clients = [
        httpx.AsyncClient(limits=httpx.Limits(max_connections=4, max_keepalive_connections=4))
        for _ in range(max(1, in_flight // 4))
    ]
    slots = asyncio.Semaphore(in_flight)

    async def one(i: int) -> None:
        async with slots:
            response = await clients[i % len(clients)].get(url, headers={"Authorization": "Bearer k"})
            response.json()

    await asyncio.gather(*(one(i) for i in range(requests)))
    for client in clients:
        await client.aclose()


async def with_aiohttp(url: str, requests: int, in_flight: int) -> None:
    import aiohttp

    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=in_flight)) as session:

        async def one() -> None:
            async with session.get(url, headers={"Authorization": "Bearer k"}) as response:
                json.loads(await response.read())

        slots = asyncio.Semaphore(in_flight)

        async def bounded() -> None:
            async with slots:
                await one()

        await asyncio.gather(*(bounded() for _ in range(requests)))


def measure(client: str, url: str, requests: int, in_flight: int) -> dict[str, float]:
    run = with_httpx if client == "httpx" else with_aiohttp
    cpu, wall = time.process_time(), time.perf_counter()
    asyncio.run(run(url, requests, in_flight))
    return {
        "rps": requests / (time.perf_counter() - wall),
        "cpu_us": (time.process_time() - cpu) / requests * 1e6,
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=20_000)
    parser.add_argument("--in-flight", type=int, default=64)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--serve", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--one", nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        serve(args.serve)
        return
    if args.one:
        print(json.dumps(measure(args.one[0], args.one[1], args.requests, args.in_flight)))
        return
    port = free_port()
    server = subprocess.Popen([sys.executable, __file__, "--serve", str(port)])
    try:
        url = f"http://127.0.0.1:{port}/v1/videos/job"
        wait_for_port(port)
        results: dict[str, list[dict[str, float]]] = {"httpx": [], "aiohttp": []}
        for _ in range(args.runs):  # interleaved, each in a fresh process
            for client in results:
                out = subprocess.run(
                    [
                        sys.executable,
                        __file__,
                        "--one",
                        client,
                        url,
                        "--requests",
                        str(args.requests),
                        "--in-flight",
                        str(args.in_flight),
                    ],
                    check=True,
                    capture_output=True,
                    text=True,
                ).stdout
                results[client].append(json.loads(out.strip().splitlines()[-1]))
    finally:
        server.terminate()
        server.wait()
    print(f"{args.requests} GETs, {args.in_flight} in flight, {args.runs} runs each, medians")
    for client, runs in results.items():
        print(
            f"{client:8s} {statistics.median(r['rps'] for r in runs):7.0f} requests/s, "
            f"client CPU {statistics.median(r['cpu_us'] for r in runs):6.0f} µs per request"
        )


if __name__ == "__main__":
    main()
