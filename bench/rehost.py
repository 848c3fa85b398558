"""Re-hosting benchmark: a ~50 MB MP4 from a loopback upstream into local storage.

What is timed: ``collect_asset`` (the worker's collect step) streaming the video from an HTTP upstream
on 127.0.0.1 into ``LocalStorage`` — download, sha256, fsync, probe and poster frame included.
Baseline in the same run: a plain copy of the same URL to a file with the same HTTP client (httpx
streaming, 1 MiB writes, no hashing, no fsync, no probe). Each measurement runs in a fresh Python
process (libraries imported before the start), so its peak RSS growth is its own.

    python bench/rehost.py [--runs 5] [--size-mb 50]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from loopback import serve_directory

RSS_SAMPLE_S = 0.002


def rss_bytes() -> int:
    with open("/proc/self/status", encoding="ascii") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    raise RuntimeError("no VmRSS in /proc/self/status")


class PeakRss:
    """Samples this process's RSS in a thread; ``growth`` is the peak above the starting value."""

    def __enter__(self) -> PeakRss:
        self.start = self.peak = rss_bytes()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()
        return self

    def _sample(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, rss_bytes())
            time.sleep(RSS_SAMPLE_S)

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, rss_bytes())

    @property
    def growth(self) -> int:
        return self.peak - self.start


def make_video(path: Path, size_mb: int) -> None:
    """Lossless H.264 of noise: incompressible, so the file size follows the frame count."""
    import av
    import numpy as np

    frames = round(size_mb * 1024 * 1024 / 425_000)  # ~425 kB per 640x360 noise frame at qp 0
    rng = np.random.default_rng(1)
    with av.open(str(path), "w") as container:
        stream = container.add_stream("libx264", rate=30)
        stream.width, stream.height, stream.pix_fmt = 640, 360, "yuv420p"
        stream.options = {"preset": "ultrafast", "qp": "0"}
        for _ in range(frames):
            pixels = rng.integers(0, 256, (360, 640, 3), dtype=np.uint8)
            for packet in stream.encode(av.VideoFrame.from_ndarray(pixels, format="rgb24")):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)


async def plain_copy(client: Any, url: str, out: Path, *, durable: bool = False) -> int:
    """The baseline: stream ``url`` to ``out`` with the same client (and fsync it when ``durable``)."""
    size = 0
    async with client.stream("GET", url) as response:
        response.raise_for_status()
        with out.open("wb") as handle:
            pending = bytearray()
            async for chunk in response.aiter_raw():
                size += len(chunk)
                pending += chunk
                if len(pending) >= 1 << 20:
                    await asyncio.to_thread(handle.write, bytes(pending))
                    pending.clear()
            await asyncio.to_thread(handle.write, bytes(pending))
            if durable:
                handle.flush()
                await asyncio.to_thread(os.fsync, handle.fileno())
    return size


class HttpUpstream:
    """The part of an HTTP provider that collect uses: ``open_result`` streams the upstream URL."""

    name = "bench-upstream"

    def __init__(self, client: Any) -> None:
        self.client = client

    async def open_result(self, asset: Any, job: Any) -> AsyncIterator[bytes]:
        async with self.client.stream("GET", asset.url) as response:
            response.raise_for_status()
            async for chunk in response.aiter_raw():
                yield chunk


async def rehost(client: Any, url: str, root: Path) -> int:
    """What the worker's collect step does with one upstream video result."""
    from imagine_gateway.catalog.loader import load_catalog
    from imagine_gateway.media.storage import LocalStorage
    from imagine_gateway.providers.base import Job, ResultAsset
    from imagine_gateway.worker.collect import collect_asset

    model = load_catalog().get("grok-imagine-video")
    assert model is not None
    job = Job(task_id=f"task_{root.name}", model=model, prompt="bench", params={})
    asset = ResultAsset(url=url, kind="video", mime_type="video/mp4")
    collected = await collect_asset(
        LocalStorage(root / "media"),
        HttpUpstream(client),  # type: ignore[arg-type]
        job,
        asset,
        0,
        max_bytes=512 * 1024 * 1024,
        work_dir=root,
    )
    assert collected.poster_key is not None and collected.width == 640
    return collected.size_bytes


async def run_one(mode: str, url: str, warmup_url: str) -> dict[str, float]:
    """One measurement in a fresh process, after a warm-up on a small file with the same code path,
    as in a running worker (client, codecs and thread pool already there)."""
    import httpx

    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        async with httpx.AsyncClient(timeout=60) as client:
            for name, target in (("warm", warmup_url), ("run", url)):
                work = root / name
                work.mkdir()
                with PeakRss() as rss:
                    start = time.perf_counter()
                    if mode in ("copy", "copy+fsync"):
                        size = await plain_copy(
                            client, target, work / "copy.mp4", durable=mode == "copy+fsync"
                        )
                    else:
                        size = await rehost(client, target, work)
                    seconds = time.perf_counter() - start
    return {"seconds": seconds, "size": size, "rss_growth": rss.growth}


def measure(mode: str, url: str) -> dict[str, float]:
    warmup = url.rsplit("/", 1)[0] + "/warmup.mp4"
    out = subprocess.run(
        [sys.executable, __file__, "--one", mode, url, warmup], check=True, capture_output=True, text=True
    ).stdout
    result: dict[str, float] = json.loads(out.strip().splitlines()[-1])
    return result


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--size-mb", type=int, default=50)
    parser.add_argument("--one", nargs=3, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        print(json.dumps(asyncio.run(run_one(*args.one))))
        return
    with tempfile.TemporaryDirectory() as tmp:
        video = Path(tmp) / "result.mp4"
        make_video(video, args.size_mb)
        make_video(Path(tmp) / "warmup.mp4", 1)
        size = video.stat().st_size
        with serve_directory(Path(tmp)) as base_url:
            url = f"{base_url}/result.mp4"
            copies, durable, rehosts = [], [], []
            for _ in range(args.runs):  # interleaved, so drift affects all sides alike
                copies.append(measure("copy", url))
                durable.append(measure("copy+fsync", url))
                rehosts.append(measure("rehost", url))
    copy_s = statistics.median(r["seconds"] for r in copies)
    durable_s = statistics.median(r["seconds"] for r in durable)
    rehost_s = statistics.median(r["seconds"] for r in rehosts)
    mib = 1024 * 1024
    print(f"video: {size / mib:.1f} MiB, {args.runs} runs each, medians")
    print(
        f"plain copy over loopback: {copy_s:.3f} s = {size / mib / copy_s:.0f} MiB/s, "
        f"peak RSS growth {statistics.median(r['rss_growth'] for r in copies) / mib:.1f} MiB"
    )
    print(
        f"re-host (collect_asset):  {rehost_s:.3f} s = {size / mib / rehost_s:.0f} MiB/s, "
        f"peak RSS growth {statistics.median(r['rss_growth'] for r in rehosts) / mib:.1f} MiB "
        f"(max {max(r['rss_growth'] for r in rehosts) / mib:.1f} MiB)"
    )
    print(f"plain copy + fsync:       {durable_s:.3f} s = {size / mib / durable_s:.0f} MiB/s")
    print(
        f"re-host throughput relative to plain copy: {copy_s / rehost_s:.0%}; "
        f"to copy + fsync: {durable_s / rehost_s:.0%}"
    )


if __name__ == "__main__":
    main()
