"""The gateway's Prometheus metrics, on the official ``prometheus-client``.

Counters and histograms are recorded where things happen (the HTTP middleware, the upstream client,
the worker, the webhook dispatcher); the task gauges are read from the database when scraped.
Labels are bounded: route templates (not paths), dialects, provider names, status classes, states,
model ids from the catalog; never a task, account or key id.

With ``PROMETHEUS_MULTIPROC_DIR`` set (several API processes behind one port), every process writes
its values under that directory and a scrape of any of them adds them up.
"""

from __future__ import annotations

import os
from typing import Any, Literal

from prometheus_client import Counter, Histogram
from prometheus_client.metrics import MetricWrapperBase

NAMESPACE = "imagine"
# Seconds: from a cached read (1 ms) to a slow upload (1 min).
LATENCY_BUCKETS = (0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)

http_requests = Counter(
    "http_requests",
    "HTTP requests answered, by route template, dialect and status code",
    ["route", "dialect", "method", "status"],
    namespace=NAMESPACE,
)
http_latency = Histogram(
    "http_request_duration_seconds",
    "Time to the end of the response, by route template and dialect",
    ["route", "dialect", "method"],
    namespace=NAMESPACE,
    buckets=LATENCY_BUCKETS,
)
upstream_requests = Counter(
    "upstream_requests",
    "Requests to upstream providers, by provider, endpoint role and status class",
    ["provider", "endpoint", "status_class"],
    namespace=NAMESPACE,
)
upstream_latency = Histogram(
    "upstream_request_duration_seconds",
    "Time to an upstream's whole answer, by provider and endpoint role",
    ["provider", "endpoint"],
    namespace=NAMESPACE,
    buckets=LATENCY_BUCKETS,
)
tasks_created = Counter(
    "tasks_created", "Tasks created, by model and dialect", ["model", "dialect"], namespace=NAMESPACE
)
tasks_ended = Counter(
    "tasks_ended",
    "Tasks that reached an end, by model, final state and error code",
    ["model", "state", "code"],
    namespace=NAMESPACE,
)
credits = Counter(
    "credits",
    "Credits moved: reserved at create, captured on success, released on failure or cancel",
    ["kind"],
    namespace=NAMESPACE,
)
webhook_deliveries = Counter(
    "webhook_deliveries", "Webhook delivery attempts, by outcome", ["outcome"], namespace=NAMESPACE
)
webhook_latency = Histogram(
    "webhook_delivery_duration_seconds",
    "Time of one webhook delivery attempt",
    namespace=NAMESPACE,
    buckets=LATENCY_BUCKETS,
)
collected_bytes = Counter(
    "collected_bytes",
    "Bytes of results stored from upstreams, by provider",
    ["provider"],
    namespace=NAMESPACE,
)
collected_assets = Counter(
    "collected_assets", "Result files stored from upstreams, by provider", ["provider"], namespace=NAMESPACE
)


_children: dict[tuple[int, tuple[str, ...]], Any] = {}


def child(metric: MetricWrapperBase, *values: str) -> Any:
    """``metric.labels(*values)``, kept: ``labels()`` takes a lock and builds its key on every call,
    which a create would pay twice. Label values are bounded (see above), so is this."""
    key = (id(metric), values)
    found = _children.get(key)
    if found is None:
        found = _children[key] = metric.labels(*values)
    return found


def status_class(status: int | None) -> str:
    """``2xx`` .. ``5xx``; ``error`` when no answer came (refused, reset, timed out)."""
    return "error" if status is None else f"{status // 100}xx"


def count_credits(kind: Literal["reserve", "capture", "release"], amount: int) -> None:
    """Credits moved by one committed ledger posting."""
    if amount:
        child(credits, kind).inc(abs(amount))


def multiprocess_dir() -> str | None:
    """Where the processes of one host keep their values, when metrics are shared between them."""
    return os.environ.get("PROMETHEUS_MULTIPROC_DIR") or None
