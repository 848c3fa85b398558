"""Run the reliability suite and write its table into docs/reliability.md.

    python scripts/reliability_report.py            # the suite as CI runs it (bounded counts)
    IMAGINE_SOAK=1 python scripts/reliability_report.py   # the long soak (larger counts)
    python scripts/reliability_report.py --no-run   # only re-render docs/reliability.md from the JSON

The tests record what they tried and found (``tests/reliability/conftest.py``) into
``docs/reliability.json``; every row of the table comes from there, never from hand.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "docs" / "reliability.json"
DOC = ROOT / "docs" / "reliability.md"
SKIP = {"scenario", "tries", "unit", "soak"}

HEADER = """# Reliability

What the gateway is put through on every test run (`tests/reliability/`, part of the normal suite;
`IMAGINE_SOAK=1` runs the same scenarios with larger counts), and what it did. Faults are real: a
`SIGKILL` of an `imagine worker` process, `pg_terminate_backend` on the gateway's PostgreSQL
connections, tmpfs file systems that are full or remounted read-only, and the mock upstreams'
failure modes over real HTTP. Each scenario checks that every task ended once, that the upstream
got one job per task, that only succeeded tasks were charged, once, and that the ledger balances
(sum of ledger rows = balance, sum of reserved deltas = reserved = 0).

Regenerate this page with `python scripts/reliability_report.py` (it runs the suite, writes
`docs/reliability.json` and renders the table below from it).

| Scenario | Tries | Result |
|---|---:|---|
"""


def _fact(name: str, value: Any) -> str:
    words = name.replace("_", " ")
    if isinstance(value, bool):
        return words if value else f"NOT {words}"
    if isinstance(value, int):
        return f"{value} {words}"
    return f"{words}: {value}"


def render(records: list[dict[str, Any]]) -> str:
    """The page for ``records`` (one table row each, in the order of the scenarios' names)."""
    rows = []
    for record in sorted(records, key=lambda r: r["scenario"]):
        facts = ", ".join(_fact(k, v) for k, v in record.items() if k not in SKIP)
        soak = " (soak)" if record.get("soak") else ""
        rows.append(f"| {record['scenario']} | {record['tries']} {record['unit']}{soak} | {facts} |")
    stamp = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    return HEADER + "\n".join(rows) + f"\n\nLast generated {stamp}.\n"


# The fault scenarios, and the bad-input corpus that records its counts beside them.
SUITES = ("tests/reliability", "tests/api/test_bad_input_corpus.py")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--no-run", action="store_true", help="render docs/reliability.md from the JSON only")
    args = parser.parse_args()
    if not args.no_run:
        RESULTS.unlink(missing_ok=True)
        env = {**os.environ, "IMAGINE_RELIABILITY_REPORT": str(RESULTS)}
        src = str(ROOT / "src")
        env["PYTHONPATH"] = src + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
        command = [sys.executable, "-m", "pytest", *SUITES, "-q", "-p", "no:cacheprovider"]
        code = subprocess.call(command, cwd=ROOT, env=env)
        if code != 0:
            print("the reliability suite failed; docs/reliability.md was not changed", file=sys.stderr)
            return code
    DOC.write_text(render(json.loads(RESULTS.read_text())))
    print(f"wrote {DOC.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
