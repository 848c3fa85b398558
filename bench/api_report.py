"""What `bench/api.py` writes: the JSON of every cell, the table and targets in docs/benchmarks.md, a chart.

Cells measured more than once (``--rounds``) are summarised by their median. The targets compare
systems within the run, so background load on a shared machine cancels out of the ratios.
"""

from __future__ import annotations

import json
import statistics
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from api_wrk import Cell

START = "<!-- bench/api.py: start -->"
END = "<!-- bench/api.py: end -->"
GET_ROUTES = {"get", "status", "list", "models"}


def medians(cells: Sequence[Cell]) -> dict[tuple[str, str, int], dict[str, float]]:
    """(system, route, concurrency) -> the median of each measure over the rounds."""
    grouped: dict[tuple[str, str, int], list[Cell]] = {}
    for cell in cells:
        grouped.setdefault((cell.system, cell.route, cell.concurrency), []).append(cell)
    return {
        key: {
            measure: statistics.median(getattr(c, measure) for c in group)
            for measure in ("rps", "p50_ms", "p99_ms", "cpu_ms_per_request", "machine_busy", "errors")
        }
        for key, group in grouped.items()
    }


def _n(value: float) -> str:
    return f"{value:,.0f}" if value >= 100 else f"{value:,.1f}"


def _ms(value: float) -> str:
    return f"{value:.1f} ms" if value < 100 else f"{value:,.0f} ms"


def table(summary: dict[tuple[str, str, int], dict[str, float]], labels: dict[str, str]) -> list[str]:
    rows = [
        "| system | route | c=1 req/s | c=16 req/s / p50 / p99 | c=64 req/s / p99 | server CPU per request "
        "| machine busy at c=16 |",
        "|---|---|---|---|---|---|---|",
    ]
    pairs = sorted({(s, r) for s, r, _ in summary}, key=lambda p: (list(labels).index(p[0]), p[1]))
    for system, route in pairs:
        one, mid, top = (summary.get((system, route, c)) for c in (1, 16, 64))
        cpu = [summary[k]["cpu_ms_per_request"] for k in summary if k[:2] == (system, route)]
        errors = sum(summary[k]["errors"] for k in summary if k[:2] == (system, route))
        first = _n(one["rps"]) if one else "–"
        middle = f"{_n(mid['rps'])} / {_ms(mid['p50_ms'])} / {_ms(mid['p99_ms'])}" if mid else "–"
        last = f"{_n(top['rps'])} / {_ms(top['p99_ms'])}" if top else "–"
        shown = f"{route} ({errors:.0f} errors)" if errors else route
        busy = f"{mid.get('machine_busy', 0):.0%}" if mid else "–"
        rows.append(
            f"| {labels[system]} | {shown} | {first} | {middle} | {last} | {min(cpu):.2f}–{max(cpu):.2f} ms "
            f"| {busy} |"
        )
    return rows


def targets(summary: dict[tuple[str, str, int], dict[str, float]]) -> list[dict[str, Any]]:
    """Each target of the API hot path, measured at c=16 (missing systems are skipped)."""

    def at(system: str, route: str, measure: str = "rps") -> float | None:
        cell = summary.get((system, route, 16))
        return None if cell is None else cell[measure]

    found: list[dict[str, Any]] = []

    def ratio(
        name: str, top: float | None, bottom: float | None, goal: float, *, at_most: bool = False
    ) -> None:
        if top is None or bottom is None or bottom == 0:
            return
        value = top / bottom
        met = value <= goal if at_most else value >= goal
        found.append({"target": name, "value": round(value, 3), "goal": goal, "at_most": at_most, "met": met})

    ceiling_get, ceiling_post = at("fastapi", "get"), at("fastapi", "post")
    for system in ("sqlite", "pg"):
        ratio(f"{system}: status / bare GET", at(system, "status"), ceiling_get, 0.5)
    ratio("sqlite: create / LiteLLM video create", at("sqlite", "create"), at("litellm", "video_create"), 20)
    ratio("sqlite: create / bare POST", at("sqlite", "create"), ceiling_post, 0.3)
    ratio("sqlite: models / bare GET", at("sqlite", "models"), ceiling_get, 0.8)
    for system, route, _ in sorted(summary):
        if system in ("fastapi", "litellm") or _ != 16:
            continue
        ceiling = "get" if route in GET_ROUTES else "post"
        ratio(
            f"{system}: {route} p99 / bare {ceiling.upper()} p99",
            at(system, route, "p99_ms"),
            at("fastapi", ceiling, "p99_ms"),
            3,
            at_most=True,
        )
    ratio("pg: 2 API processes / 1 on status", at("pg2", "status"), at("pg", "status"), 1.7)
    ratio("sqlite: 2 API processes / 1 on status", at("sqlite2", "status"), at("sqlite", "status"), 1.7)
    return found


def target_rows(found: list[dict[str, Any]]) -> list[str]:
    rows = ["| target (c=16) | goal | this run | |", "|---|---|---|---|"]
    for t in found:
        goal = f"≤ {t['goal']:g}×" if t["at_most"] else f"≥ {t['goal']:g}×"
        rows.append(
            f"| {t['target']} | {goal} | {t['value']:.2f}× | {'met' if t['met'] else '**not met**'} |"
        )
    return rows


def write_json(path: Path, meta: dict[str, Any], cells: Sequence[Cell], found: list[dict[str, Any]]) -> None:
    path.write_text(
        json.dumps({**meta, "cells": [c.as_dict() for c in cells], "targets": found}, indent=1) + "\n"
    )


def update_doc(doc: Path, command: str, meta: dict[str, Any], rows: list[str], goals: list[str]) -> None:
    """Replace the block between the markers (appended when the file has none); the rest stays."""
    block = [
        START,
        f"Measured {meta['date']} on {meta['machine']}: `{command}` ({meta['seconds']:g} s a cell, "
        f"{meta['rounds']} round{'s' if meta['rounds'] != 1 else ''}; wrk {meta['wrk']}, one thread).",
        "",
        *rows,
        "",
        *goals,
        "",
        "![req/s and p99 by concurrency](benchmarks-api.png)",
        END,
    ]
    text = doc.read_text() if doc.exists() else "# Benchmarks\n"
    if START in text and END in text:
        head, rest = text.split(START, 1)
        tail = rest.split(END, 1)[1]
        text = head + "\n".join(block) + tail
    else:
        text = text.rstrip("\n") + "\n\n" + "\n".join(block) + "\n"
    doc.write_text(text)


def chart(path: Path, summary: dict[tuple[str, str, int], dict[str, float]], labels: dict[str, str]) -> None:
    """Two panels, req/s and p99 against concurrency, one line per system and route."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (left, right) = plt.subplots(1, 2, figsize=(13, 5.5))
    # One colour per system, one line style and marker per route.
    colours = {system: plt.get_cmap("tab10")(i % 10) for i, system in enumerate(labels)}
    routes = sorted({r for _, r, _ in summary})
    styles = {r: ("-", "--", ":", "-.")[i % 4] for i, r in enumerate(routes)}
    markers = {r: "osD^v<>"[i % 7] for i, r in enumerate(routes)}
    for system, route in sorted(
        {(s, r) for s, r, _ in summary}, key=lambda p: (list(labels).index(p[0]), p[1])
    ):
        points = sorted((c, v) for (s, r, c), v in summary.items() if (s, r) == (system, route))
        xs = [c for c, _ in points]
        look = {"color": colours[system], "linestyle": styles[route], "marker": markers[route]}
        name = f"{system} {route}"
        left.plot(xs, [v["rps"] for _, v in points], label=name, **look)
        right.plot(xs, [v["p99_ms"] for _, v in points], label=name, **look)
    for ax, title in ((left, "requests per second"), (right, "p99 latency (ms)")):
        ax.set_xscale("log", base=2)
        ax.set_yscale("log")
        ax.set_xticks([1, 16, 64], ["1", "16", "64"])
        ax.set_xlabel("concurrent connections")
        ax.set_title(title)
        ax.grid(True, which="both", alpha=0.3)
    right.legend(fontsize=7, loc="center left", bbox_to_anchor=(1.02, 0.5))
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
