"""One cell of `bench/api.py`: wrk at one concurrency on one route, and the server's CPU meanwhile.

wrk runs in its own process with one thread. Every cell goes through a Lua script whose ``done``
hook prints one JSON line (requests, duration, latency percentiles, errors), so nothing is parsed
out of wrk's human report. A create cell's script gives each request its own ``Idempotency-Key``.
Server CPU is the user + system time of the server's processes (the one started and its children,
from ``/proc``) over the cell, divided by the requests served; machine busy is the share of every
CPU in use meanwhile, by any process (the server, PostgreSQL's backends, wrk itself).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from dataclasses import asdict, dataclass, field
from pathlib import Path

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")

LUA = r"""
local method, body, content_type, token, unique = "GET", nil, nil, nil, false
local prefix, counter = "k", 0

init = function(args)
  method = args[1]
  body = args[2] ~= "-" and args[2] or nil
  token = args[3] ~= "-" and args[3] or nil
  unique = args[4] == "unique"
  prefix = args[5] or "k"
  if token then wrk.headers["Authorization"] = "Bearer " .. token end
  if body then wrk.headers["Content-Type"] = "application/json" end
end

request = function()
  if unique then
    counter = counter + 1
    wrk.headers["Idempotency-Key"] = prefix .. "-" .. counter
  end
  return wrk.format(method, nil, nil, body)
end

done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    '\nWRKJSON {"requests":%d,"duration_us":%d,"p50_us":%d,"p90_us":%d,"p99_us":%d,' ..
    '"max_us":%d,"non_2xx":%d,"connect":%d,"read":%d,"write":%d,"timeout":%d}\n',
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(90),
    latency:percentile(99), latency.max, e.status, e.connect, e.read, e.write, e.timeout))
end
"""


@dataclass(frozen=True)
class Route:
    """What one cell sends: method, path, JSON body, and whether each request needs its own key."""

    name: str
    method: str
    path: str
    body: str | None = None
    token: str | None = None
    unique_key: bool = False


@dataclass
class Cell:
    """One measurement: a system's route at one concurrency."""

    system: str
    route: str
    concurrency: int
    round: int
    requests: int = 0
    seconds: float = 0.0
    rps: float = 0.0
    p50_ms: float = 0.0
    p99_ms: float = 0.0
    errors: int = 0
    cpu_ms_per_request: float = 0.0
    machine_busy: float = 0.0  # of all CPUs, every process (server, database, wrk): 1.0 = saturated
    notes: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, object]:
        return asdict(self)


def require_wrk() -> str:
    """wrk's path, or a clear exit when it is not installed."""
    found = shutil.which("wrk")
    if found is None:
        raise SystemExit(
            "bench/api.py needs wrk (the Debian package `wrk`): `apt-get install wrk`, then run it again."
        )
    return found


def write_script(directory: Path) -> Path:
    path = directory / "cell.lua"
    path.write_text(LUA)
    return path


def process_tree(root: int) -> list[int]:
    """``root`` and every process below it (uvicorn's workers, LiteLLM's children)."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        children.setdefault(ppid, []).append(int(entry))
    found, todo = [], [root]
    while todo:
        pid = todo.pop()
        found.append(pid)
        todo.extend(children.get(pid, []))
    return found


def machine_ticks() -> tuple[int, int]:
    """(busy, total) CPU ticks of the whole machine so far, from /proc/stat (idle and iowait: not busy)."""
    values = [int(v) for v in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    total = sum(values[:8])  # user..steal; guest time is inside user already
    return total - values[3] - values[4], total


def cpu_seconds(root: int) -> float:
    """User + system CPU of ``root``'s process tree so far (children still running are counted)."""
    total = 0
    for pid in process_tree(root):
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])  # utime, stime
    return total / CLOCK_TICKS


def run_cell(
    wrk: str,
    script: Path,
    base_url: str,
    route: Route,
    *,
    cell: Cell,
    seconds: float,
    server_pid: int,
) -> Cell:
    """Run wrk for ``seconds`` against ``route`` at ``cell.concurrency``; fill ``cell`` in."""
    args = [
        wrk,
        "-t1",
        f"-c{cell.concurrency}",
        f"-d{max(1, round(seconds))}s",
        "--timeout",
        "10s",
        "-s",
        str(script),
        base_url + route.path,
        "--",
        route.method,
        route.body or "-",
        route.token or "-",
        "unique" if route.unique_key else "same",
        f"{cell.system}-{cell.route}-{cell.concurrency}-{cell.round}-{os.getpid()}",
    ]
    cpu_before, machine_before = cpu_seconds(server_pid), machine_ticks()
    done = subprocess.run(args, capture_output=True, text=True, check=False)
    cpu_after, machine_after = cpu_seconds(server_pid), machine_ticks()
    line = next((x for x in done.stdout.splitlines() if x.startswith("WRKJSON ")), None)
    if done.returncode != 0 or line is None:
        raise RuntimeError(f"wrk failed on {cell.system} {route.name}: {done.stdout}\n{done.stderr}")
    data = json.loads(line.removeprefix("WRKJSON "))
    cell.requests = int(data["requests"])
    cell.seconds = data["duration_us"] / 1e6
    cell.rps = cell.requests / cell.seconds if cell.seconds else 0.0
    cell.p50_ms = data["p50_us"] / 1000
    cell.p99_ms = data["p99_us"] / 1000
    cell.errors = sum(int(data[k]) for k in ("non_2xx", "connect", "read", "write", "timeout"))
    if cell.requests:
        cell.cpu_ms_per_request = (cpu_after - cpu_before) * 1000 / cell.requests
    busy, total = (after - before for after, before in zip(machine_after, machine_before, strict=True))
    cell.machine_busy = busy / total if total else 0.0
    if cell.errors:
        cell.notes.append(
            f"{cell.errors} errors: {json.dumps({k: data[k] for k in data if k != 'requests'})}"
        )
    return cell
