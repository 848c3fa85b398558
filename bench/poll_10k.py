"""Upstream polling benchmark: 10,000 video tasks in flight at once against the mock xAI upstream.

One worker process (this one) submits, polls, collects and settles every task; the mock xAI API
runs in a child process (``--serve-mock``) with a 60 s generation time and serves one small MP4 for
every result. Reported: peak RSS of this process, poll lag (actual minus scheduled start of each
poll), upstream requests per task, wall time, and a check that every task settled exactly once.

    python bench/poll_10k.py [--tasks 10000] [--generation-s 60]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import resource
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from loopback import free_port, wait_for_port
from sqlalchemy import func, select

from imagine_gateway import eventloop
from imagine_gateway.catalog.validation import validate_generation
from imagine_gateway.providers.sandbox import render_video
from imagine_gateway.runtime import Overrides, build_context
from imagine_gateway.services.principal import ALL_SCOPES, Principal
from imagine_gateway.settings import load_settings
from imagine_gateway.store.migrate import upgrade
from imagine_gateway.store.tables import ledger, tasks

KEY = "bench-key"


def serve_mock(port: int, generation_s: float, media_file: Path, stats_file: Path) -> None:
    """Child process: the mock xAI API until SIGINT, then its request counts as JSON."""
    import uvicorn

    from imagine_gateway.testing.mock_upstreams import MockConfig, create_mock_app

    config = MockConfig(api_key=KEY, generation_time_s=generation_s, media_file=media_file)
    app = create_mock_app("xai", config)
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, backlog=16384, lifespan="off", log_level="warning")
    )
    try:
        with contextlib.suppress(KeyboardInterrupt):  # how the parent stops it
            server.run()
    finally:
        stats = app.state.mock.stats
        per_job = list(stats.by_job.values())
        stats_file.write_text(
            json.dumps({"by_endpoint": dict(stats.by_endpoint), "per_job": per_job, "jobs": len(per_job)})
        )


def percentile(values: list[int], share: float) -> float:
    ordered = sorted(values)
    return float(ordered[min(len(ordered) - 1, int(share * len(ordered)))])


async def run(args: argparse.Namespace, home: Path, base_url: str) -> dict[str, Any]:
    settings = load_settings(
        home=home,
        XAI_API_KEY=KEY,
        XAI_BASE_URL=base_url,
        task_deadline_s=args.generation_s * 5,
        lease_s=30.0,
        worker_concurrency=args.concurrency,
        worker_submit_concurrency=args.submit_concurrency,
        worker_batch=500,
        worker_idle_poll_s=0.1,
    )
    await asyncio.to_thread(upgrade, settings.resolved_database_url)
    ctx = build_context(settings, Overrides(run_worker=True))
    made = await ctx.accounts.create_key(name="bench", credits=args.tasks * 10)
    assert ctx.worker is not None
    principal = Principal(account_id=made.account.id, api_key_id=made.key.id, scopes=frozenset(ALL_SCOPES))
    request = validate_generation(
        ctx.catalog, {"model": "grok-imagine-video", "prompt": "bench", "params": {"duration": 6}}
    )
    created_at = time.monotonic()
    for _ in range(args.tasks):
        await ctx.generations.create(principal, request)
    create_s = time.monotonic() - created_at

    lags: list[int] = []
    lag_times: list[float] = []
    stop = asyncio.Event()
    started = time.monotonic()

    def on_poll_lag(lag_ms: int) -> None:
        lags.append(lag_ms)
        lag_times.append(time.monotonic() - started)

    ctx.worker.on_poll_lag = on_poll_lag
    worker = asyncio.create_task(ctx.worker.run(stop))
    terminal = 0
    peak_at_upstream = 0
    by_state = select(tasks.c.state, func.count()).group_by(tasks.c.state)
    while terminal < args.tasks:
        await asyncio.sleep(1.0)
        async with ctx.db.read() as conn:
            counts = {state: n for state, n in await conn.execute(by_state)}
        terminal = counts.get("succeeded", 0) + counts.get("failed", 0) + counts.get("canceled", 0)
        peak_at_upstream = max(peak_at_upstream, counts.get("processing", 0))
        print(
            f"  {time.monotonic() - started:5.0f} s: {terminal} settled, "
            f"{counts.get('processing', 0)} at the upstream, {len(lags)} polls",
            flush=True,
        )
    wall_s = time.monotonic() - started
    stop.set()
    await worker
    async with ctx.db.read() as conn:
        states = dict((await conn.execute(select(tasks.c.state, func.count()).group_by(tasks.c.state))).all())
        kinds = dict((await conn.execute(select(ledger.c.kind, func.count()).group_by(ledger.c.kind))).all())
        settled_per_task = (
            await conn.execute(
                select(func.count()).select_from(
                    select(ledger.c.task_id)
                    .where(ledger.c.kind.in_(["capture", "release"]))
                    .group_by(ledger.c.task_id)
                    .having(func.count() == 1)
                    .subquery()
                )
            )
        ).scalar_one()
    await ctx.router.aclose()
    await ctx.storage.aclose()
    await ctx.db.dispose()
    return {
        "create_s": create_s,
        "wall_s": wall_s,
        "lags": lags,
        "lag_times": lag_times,
        "states": states,
        "ledger": kinds,
        "settled_once": settled_per_task,
        "peak_at_upstream": peak_at_upstream,
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--tasks", type=int, default=10_000)
    parser.add_argument("--generation-s", type=float, default=60.0)
    parser.add_argument("--concurrency", type=int, default=1024, help="worker_concurrency (polls in flight)")
    parser.add_argument(
        "--submit-concurrency", type=int, default=None, help="worker_submit_concurrency (default: 1/8 of it)"
    )
    parser.add_argument("--loop", choices=("gateway", "asyncio"), default="gateway")
    parser.add_argument("--serve-mock", nargs=3, metavar=("PORT", "MEDIA", "STATS"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve_mock:
        port, media, stats = args.serve_mock
        serve_mock(int(port), args.generation_s, Path(media), Path(stats))
        return

    with tempfile.TemporaryDirectory() as tmp:
        home = Path(tmp)
        media = home / "result.mp4"
        render_video("bench", 320, 180, 1.0, media, fps=4)
        stats_file = home / "mock-stats.json"
        port = free_port()
        child = subprocess.Popen(
            [
                sys.executable,
                __file__,
                "--generation-s",
                str(args.generation_s),
                "--serve-mock",
                str(port),
                str(media),
                str(stats_file),
            ],
        )
        try:
            wait_for_port(port)
            coro = run(args, home / "gateway", f"http://127.0.0.1:{port}")
            # The loop `imagine worker` runs on (uvloop when installed), or asyncio's own to compare.
            result = asyncio.run(coro) if args.loop == "asyncio" else eventloop.run(coro)
        finally:
            os.kill(child.pid, signal.SIGINT)
            child.wait(30)
        mock = json.loads(stats_file.read_text()) if stats_file.exists() else {}

    lags = result["lags"]
    total_requests = sum(mock["by_endpoint"].values())
    print(
        f"tasks: {args.tasks}, generation time {args.generation_s:g} s, one worker process (SQLite), "
        f"worker_concurrency {args.concurrency}, worker_submit_concurrency "
        f"{args.submit_concurrency or max(8, args.concurrency // 8)}, event loop: {args.loop}"
    )
    print(
        f"created in {result['create_s']:.1f} s; "
        f"all settled {result['wall_s']:.1f} s after the worker started"
    )
    print(f"task states: {result['states']}; ledger rows: {result['ledger']}")
    print(f"most tasks at the upstream ('processing') at once, by second: {result['peak_at_upstream']}")
    print(f"tasks settled exactly once (one capture or release each): {result['settled_once']}")
    print(f"peak RSS: {result['peak_rss_mb']:.0f} MB")
    print(
        f"poll lag over {len(lags)} polls: p50 {percentile(lags, 0.5):.0f} ms, "
        f"p99 {percentile(lags, 0.99):.0f} ms, max {max(lags):.0f} ms, mean {statistics.mean(lags):.0f} ms"
    )
    print(
        f"upstream requests: {total_requests} for {mock['jobs']} jobs = "
        f"{total_requests / args.tasks:.2f} per task ({mock['by_endpoint']})"
    )
    print("poll lag by when the poll ran (10 s windows after the worker started):")
    windows: dict[int, list[int]] = {}
    for at, lag in zip(result["lag_times"], lags, strict=True):
        windows.setdefault(int(at // 10), []).append(lag)
    for window, values in sorted(windows.items()):
        print(
            f"  {window * 10:4d}-{window * 10 + 10:<4d} s: {len(values):6d} polls, "
            f"p50 {percentile(values, 0.5):6.0f} ms, p99 {percentile(values, 0.99):6.0f} ms"
        )
    per_job = mock["per_job"]
    print(
        f"submit+poll requests per job: min {min(per_job)}, "
        f"median {statistics.median(per_job)}, max {max(per_job)}"
    )


if __name__ == "__main__":
    main()
