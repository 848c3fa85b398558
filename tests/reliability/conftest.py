"""The reliability suite's fixtures: PostgreSQL (a fresh database per test), Redis, mock upstreams,
real `imagine serve` processes (``served.py``), and the scenario log.

Every scenario records what it tried and what it found through ``scenario``; with
``IMAGINE_RELIABILITY_REPORT=path.json`` set the records are written there, and
``python scripts/reliability_report.py`` turns them into the table in docs/reliability.md.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

from tests.parallel import file_lock
from tests.providers.conftest import small_video, upstream, xai_gateway  # noqa: F401  (fixtures)
from tests.scaleout.conftest import pg_url, redis_url  # noqa: F401  (fixtures)

REPORT_ENV = "IMAGINE_RELIABILITY_REPORT"
SOAK = os.environ.get("IMAGINE_SOAK") == "1"

_records: list[dict[str, Any]] = []


def soak(normal: int, long: int) -> int:
    """How many tries a scenario makes: ``normal`` in the suite, ``long`` with ``IMAGINE_SOAK=1``."""
    return long if SOAK else normal


class Scenario:
    """One scenario's line in the reliability table."""

    def __init__(self, name: str) -> None:
        self.name = name

    def record(self, *, tries: int, unit: str, **facts: Any) -> None:
        """Keep ``facts`` (counts that the test asserted) for the report."""
        _records.append({"scenario": self.name, "tries": tries, "unit": unit, "soak": SOAK, **facts})


@pytest.fixture
def scenario(request: pytest.FixtureRequest) -> Scenario:
    """The current test's scenario, named by its docstring's first line."""
    doc = (request.function.__doc__ or request.node.name).strip().splitlines()[0]
    return Scenario(doc.rstrip("."))


def pytest_sessionfinish(session: pytest.Session) -> None:
    path = os.environ.get(REPORT_ENV)
    if not path or not _records:
        return
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    # Every xdist worker merges its own records into the one file, one worker at a time (the lock
    # creates the file empty if it was missing).
    with file_lock(target):
        text = target.read_text()
        existing: list[dict[str, Any]] = json.loads(text) if text.strip() else []
        names = {r["scenario"] for r in _records}
        kept = [r for r in existing if r["scenario"] not in names]
        target.write_text(json.dumps(kept + _records, indent=2) + "\n")
