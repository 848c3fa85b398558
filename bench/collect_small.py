"""Small-result collect benchmark: many collects of a tiny MP4 from a loopback upstream.

What is timed: ``collect_asset`` (the worker's collect step) taking a 320x180, 1 s, 4 fps H.264 MP4
(the sandbox engine's kind of result, a few kB) from an HTTP upstream on 127.0.0.1 into
``LocalStorage`` — download, sha256, fsync, probe, poster frame and its write included — ``--n``
times, ``--concurrency`` at once (the worker runs ``cpu_count`` collects at once). Baseline in the
same run, interleaved by round: a plain download of the same URL to a file with the same HTTP client
(aiohttp if installed, else httpx), the same concurrency, no hashing, no fsync, no probe. Reported per
side: collects per second (wall) and CPU seconds of this process (all its threads) per collect.

    python bench/collect_small.py [--n 1000] [--concurrency 2] [--rounds 3]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

from loopback import serve_directory

from imagine_gateway.catalog.loader import load_catalog
from imagine_gateway.media.storage import LocalStorage
from imagine_gateway.providers.base import Job, ResultAsset
from imagine_gateway.providers.sandbox import render_video
from imagine_gateway.worker.collect import collect_asset

CHUNK_BYTES = 1 << 20


class Client:
    """One streaming GET, the same for both sides: aiohttp when installed, else httpx."""

    def __init__(self) -> None:
        self._session: Any = None
        try:
            import aiohttp
        except ImportError:
            import httpx

            self.name = "httpx"
            self._session = httpx.AsyncClient(timeout=60)
        else:
            self.name = "aiohttp"
            self._session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=60))

    async def stream(self, url: str) -> AsyncIterator[bytes]:
        if self.name == "aiohttp":
            async with self._session.get(url) as response:
                response.raise_for_status()
                async for chunk in response.content.iter_chunked(CHUNK_BYTES):
                    yield chunk
        else:
            async with self._session.stream("GET", url) as response:
                response.raise_for_status()
                async for chunk in response.aiter_raw():
                    yield chunk

    async def aclose(self) -> None:
        await (self._session.close() if self.name == "aiohttp" else self._session.aclose())


class HttpUpstream:
    """The part of an HTTP provider that collect uses: ``open_result`` streams the upstream URL."""

    name = "bench-upstream"

    def __init__(self, client: Client) -> None:
        self.client = client

    def open_result(self, asset: ResultAsset, job: Job) -> AsyncIterator[bytes]:
        return self.client.stream(asset.url)


async def plain_download(client: Client, url: str, out: Path) -> int:
    """The baseline: stream ``url`` to ``out`` with the same client, writes off the event loop."""
    size = 0
    handle = await asyncio.to_thread(out.open, "wb")
    try:
        async for chunk in client.stream(url):
            size += len(chunk)
            await asyncio.to_thread(handle.write, chunk)
    finally:
        handle.close()
    return size


async def run_many(n: int, concurrency: int, one: Callable[[int], Awaitable[object]]) -> tuple[float, float]:
    """Run ``one(i)`` for ``i < n``, ``concurrency`` at once; (wall seconds, process CPU seconds)."""
    next_index = iter(range(n))

    async def lane() -> None:
        for i in next_index:
            await one(i)

    wall, cpu = time.perf_counter(), time.process_time()
    await asyncio.gather(*(lane() for _ in range(concurrency)))
    return time.perf_counter() - wall, time.process_time() - cpu


async def bench(url: str, work: Path, *, n: int, concurrency: int, rounds: int) -> None:
    model = load_catalog().get("grok-imagine-video")
    assert model is not None
    client = Client()
    upstream = HttpUpstream(client)
    asset = ResultAsset(url=url, kind="video", mime_type="video/mp4")
    results: dict[str, list[tuple[float, float]]] = {"download": [], "collect": []}
    size = 0

    def make_download(root: Path) -> Callable[[int], Awaitable[object]]:
        root.mkdir()
        return lambda i: plain_download(client, url, root / f"{i}.mp4")

    def make_collect(root: Path) -> Callable[[int], Awaitable[object]]:
        storage = LocalStorage(root)

        async def one(i: int) -> object:
            nonlocal size
            job = Job(task_id=f"task_{i}", model=model, prompt="bench", params={})
            collected = await collect_asset(
                storage,
                upstream,
                job,
                asset,
                0,
                max_bytes=64 << 20,
                work_dir=work,  # type: ignore[arg-type]
            )
            assert collected.poster_key is not None and collected.width == 320
            size = collected.size_bytes
            return collected

        return one

    try:
        for name, make in (("download", make_download), ("collect", make_collect)):
            await run_many(min(n, 50), concurrency, make(work / f"warm-{name}"))
        for round_ in range(rounds):  # interleaved, so drift affects both sides alike
            for name, make in (("download", make_download), ("collect", make_collect)):
                results[name].append(await run_many(n, concurrency, make(work / f"{name}-{round_}")))
    finally:
        await client.aclose()
    print(f"result: {size} bytes MP4; {n} per round, concurrency {concurrency}, {rounds} rounds, medians")
    print(f"client: {client.name}")
    for name, runs in results.items():
        wall = statistics.median(w for w, _ in runs)
        cpu = statistics.median(c for _, c in runs)
        print(f"{name:>8}: {n / wall:7.1f} /s, {cpu / n * 1000:6.2f} ms CPU each")
    download_wall = statistics.median(w for w, _ in results["download"])
    collect_wall = statistics.median(w for w, _ in results["collect"])
    print(f"collect throughput relative to plain download: {download_wall / collect_wall:.0%}")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, default=1000)
    parser.add_argument("--concurrency", type=int, default=2)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        served, work = Path(tmp) / "served", Path(tmp) / "work"
        served.mkdir()
        work.mkdir()
        render_video("bench", 320, 180, 1.0, served / "result.mp4", fps=4)
        with serve_directory(served) as base_url:
            url = f"{base_url}/result.mp4"
            asyncio.run(bench(url, work, n=args.n, concurrency=args.concurrency, rounds=args.rounds))


if __name__ == "__main__":
    main()
