"""The API hot path side by side: bare FastAPI (the ceiling), LiteLLM's proxy, and `imagine serve`.

One invocation starts every system as its own process, then measures with wrk (one thread), cell by
cell, in groups: at each concurrency the reads of every system back to back (the ceiling's GET among
them), then the creates (the ceiling's POST, LiteLLM's relays); who goes first turns from group to
group, so background load on the machine hits all of them alike; after a create cell on a gateway
whose worker runs inside it, the next cell waits until that worker has submitted what the cell left
queued. It writes the
cells to a JSON file, regenerates the table between the markers in docs/benchmarks.md and draws
req/s and p99 by concurrency as a PNG.

    python bench/api.py                                    # full: 10 s a cell (12-15 min)
    python bench/api.py --seconds 2                        # quick: ~3 min
    python bench/api.py --systems fastapi,sqlite,pg --concurrency 16 --seconds 3

Systems: ``fastapi`` (GET small JSON, POST JSON), ``litellm`` (``litellm[proxy]==1.106.2``, installed
once into bench/.venv-litellm/, relaying video and image creation to a loopback mock), ``sqlite``
(`imagine serve`, embedded SQLite with its worker), ``sqlite2`` (the same with ``--workers 2``),
``pg`` (PostgreSQL, ``--no-worker``) and ``pg2`` (``--workers 2``). Every process it starts is
stopped at the end, on Ctrl-C and on SIGTERM; the PostgreSQL databases it made are dropped.
"""

from __future__ import annotations

import argparse
import datetime
import os
import platform
import shlex
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from types import FrameType

import httpx
from api_report import GET_ROUTES, chart, medians, table, target_rows, targets, update_doc, write_json
from api_systems import ALL_SYSTEMS, Processes, System, settle, start_system
from api_wrk import Cell, require_wrk, run_cell, write_script

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--seconds", type=float, default=10.0, help="duration of one cell (default 10)")
    parser.add_argument("--rounds", type=int, default=1, help="times each cell is measured (median)")
    parser.add_argument("--systems", default=",".join(ALL_SYSTEMS), help="comma-separated systems")
    parser.add_argument("--concurrency", default="1,16,64", help="comma-separated connection counts")
    parser.add_argument(
        "--routes", default="", help="only these routes (comma-separated), e.g. status,create"
    )
    parser.add_argument("--json", type=Path, default=DOCS / "benchmarks-api.json", help="cells written here")
    parser.add_argument("--chart", type=Path, default=DOCS / "benchmarks-api.png", help="PNG written here")
    parser.add_argument(
        "--doc", type=Path, default=DOCS / "benchmarks.md", help="doc whose table is regenerated"
    )
    parser.add_argument("--no-doc", action="store_true", help="write the JSON and chart only")
    return parser.parse_args()


def _raise_exit(signum: int, _frame: FrameType | None) -> None:
    raise SystemExit(128 + signum)


def warm_up(system: System, seconds: float = 1.0) -> None:
    """A few requests on each route, so no cell measures a first import or a cold cache."""
    with httpx.Client(base_url=system.base_url, timeout=30) as client:
        for route in system.routes.values():
            headers = {"Authorization": f"Bearer {route.token}"} if route.token else {}
            if route.body:
                headers["content-type"] = "application/json"
            deadline = time.monotonic() + seconds / max(1, len(system.routes))
            n = 0
            while time.monotonic() < deadline or n < 3:
                if route.unique_key:
                    headers["Idempotency-Key"] = f"warm-{route.name}-{n}-{os.getpid()}"
                response = client.request(route.method, route.path, content=route.body, headers=headers)
                if response.status_code >= 400:
                    raise RuntimeError(f"{system.name} {route.name}: {response.status_code} {response.text}")
                n += 1


def schedule(
    systems: list[System], levels: list[int], only: set[str]
) -> list[tuple[int, list[tuple[System, str]]]]:
    """The cells, in groups measured back to back: at each concurrency, the reads (the ceiling's
    GET beside every gateway read) and then the creates (the ceiling's POST, LiteLLM's relays,
    every gateway create). A ratio of the targets compares cells of one group, minutes apart at
    most, so a change in the machine's background load falls on both sides of it."""
    plan = []
    for c in levels:
        for kind in ("read", "create"):
            group = [
                (system, name)
                for system in systems
                for name in system.routes
                if (not only or name in only) and route_kind(name) == kind
            ]
            if group:
                plan.append((c, group))
    return plan


def route_kind(name: str) -> str:
    return "read" if name in GET_ROUTES else "create"


def wrk_version(wrk: str) -> str:
    out = subprocess.run([wrk, "--version"], capture_output=True, text=True, check=False).stdout
    return out.split()[1] if out.startswith("wrk ") else "?"


def main() -> None:
    args = parse_args()
    wrk = require_wrk()
    names = [n.strip() for n in args.systems.split(",") if n.strip()]
    levels = [int(c) for c in args.concurrency.split(",")]
    only = {r.strip() for r in args.routes.split(",") if r.strip()}
    signal.signal(signal.SIGTERM, _raise_exit)
    cells: list[Cell] = []
    with tempfile.TemporaryDirectory(prefix="imagine-bench-api-") as tmp:
        workdir = Path(tmp)
        procs = Processes(workdir)
        try:
            systems: list[System] = []
            for name in names:
                print(f"starting {name}...", flush=True)
                systems.append(start_system(procs, workdir, name))
            for system in systems:
                warm_up(system)
            script = write_script(workdir)
            plan = schedule(systems, levels, only)
            total = sum(len(group) for _, group in plan) * args.rounds
            print(
                f"{total} cells of {args.seconds:g} s: ~{total * (args.seconds + 0.3) / 60:.1f} min",
                flush=True,
            )
            for round_no in range(args.rounds):
                for index, (c, group) in enumerate(plan):
                    turn = (round_no + index) % len(group)  # who goes first turns group by group
                    for system, route_name in group[turn:] + group[:turn]:
                        cell = Cell(system.name, route_name, c, round_no)
                        run_cell(
                            wrk,
                            script,
                            system.base_url,
                            system.routes[route_name],
                            cell=cell,
                            seconds=args.seconds,
                            server_pid=system.pid,
                        )
                        cells.append(cell)
                        settled = settle(system) if route_kind(route_name) == "create" else 0.0
                        if settled >= 1:
                            cell.notes.append(f"its worker submitted what it left queued in {settled:.0f} s")
                        print(
                            f"{system.name:8} {route_name:13} c={c:<3} {cell.rps:9,.0f} req/s  "
                            f"p50 {cell.p50_ms:7.2f} ms  p99 {cell.p99_ms:8.2f} ms  "
                            f"cpu {cell.cpu_ms_per_request:.3f} ms/req"
                            + (f"  ERRORS {cell.errors}" if cell.errors else "")
                            + (f"  (settled in {settled:.0f} s)" if settled >= 1 else ""),
                            flush=True,
                        )
            labels = {s.name: s.label for s in systems}
        except KeyboardInterrupt:
            print("interrupted: stopping every process started", file=sys.stderr)
            raise SystemExit(130) from None
        finally:
            procs.stop_all()
    report(args, cells, labels)


def report(args: argparse.Namespace, cells: list[Cell], labels: dict[str, str]) -> None:
    summary = medians(cells)
    found = targets(summary)
    meta = {
        "date": datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "machine": f"{os.cpu_count()} CPUs, {platform.platform(terse=True)}",
        "seconds": args.seconds,
        "rounds": args.rounds,
        "wrk": wrk_version(require_wrk()),
        "command": "python bench/api.py " + shlex.join(sys.argv[1:]),
        "systems": labels,
    }
    args.json.parent.mkdir(parents=True, exist_ok=True)
    write_json(args.json, meta, cells, found)
    chart(args.chart, summary, labels)
    rows, goals = table(summary, labels), target_rows(found)
    print("\n".join([*rows, "", *goals]))
    if not args.no_doc:
        update_doc(args.doc, str(meta["command"]).strip(), meta, rows, goals)
    print(f"wrote {args.json}, {args.chart}" + ("" if args.no_doc else f", {args.doc}"))


if __name__ == "__main__":
    main()
