"""What a ``/metrics`` scrape reads at the moment it runs: live tasks from the database, the
claim lag, and this process's circuit breakers. Cheap: two indexed aggregate queries."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.registry import REGISTRY, Collector

from imagine_gateway.runtime.context import Context
from imagine_gateway.store import tasks as task_store
from imagine_gateway.telemetry.metrics import NAMESPACE, multiprocess_dir

BREAKER_STATES = ("closed", "open", "probing")


@dataclass(eq=False)
class ScrapeValues(Collector):
    """The values read for one scrape, shown as gauges."""

    live: list[tuple[str, str, str, int]] = field(default_factory=list)
    claim_lag_s: float = 0.0
    breakers: dict[str, str] = field(default_factory=dict)
    misconfigured: set[str] = field(default_factory=set)

    def collect(self) -> Iterator[Metric]:
        tasks = GaugeMetricFamily(
            f"{NAMESPACE}_tasks",
            "Tasks not yet ended, by state, model and provider",
            labels=["state", "model", "provider"],
        )
        for state, model, provider, count in self.live:
            tasks.add_metric([state, model, provider], count)
        yield tasks
        queued = sum(count for state, _, _, count in self.live if state == "queued")
        yield GaugeMetricFamily(f"{NAMESPACE}_queue_depth", "Tasks waiting to be submitted", value=queued)
        yield GaugeMetricFamily(
            f"{NAMESPACE}_claim_lag_seconds",
            "How long the longest-waiting due task has waited for a worker",
            value=self.claim_lag_s,
        )
        breaker = GaugeMetricFamily(
            f"{NAMESPACE}_provider_breaker_state",
            "1 for each provider's circuit-breaker state in the process scraped",
            labels=["provider", "state"],
        )
        refused = GaugeMetricFamily(
            f"{NAMESPACE}_provider_misconfigured",
            "1 when the upstream refuses the provider's key or address",
            labels=["provider"],
        )
        for name, state in self.breakers.items():
            for known in BREAKER_STATES:
                breaker.add_metric([name, known], 1.0 if state == known else 0.0)
            refused.add_metric([name], 1.0 if name in self.misconfigured else 0.0)
        yield breaker
        yield refused


async def read_values(ctx: Context) -> ScrapeValues:
    """The scrape-time values of ``ctx``'s process."""
    now = ctx.clock.now_ms()
    async with ctx.db.read(snapshot=True) as conn:
        live = await task_store.live_counts(conn)
        oldest = await task_store.oldest_due_ms(conn, now_ms=now)
    return ScrapeValues(
        live=live,
        claim_lag_s=0.0 if oldest is None else max(0.0, (now - oldest) / 1000),
        breakers=ctx.router.health(),
        misconfigured=set(ctx.router.misconfigured()),
    )


def exposition(values: ScrapeValues) -> bytes:
    """The text of one scrape: the recorded metrics (of every process, when shared) and ``values``."""
    if (directory := multiprocess_dir()) is not None:
        recorded = CollectorRegistry()
        MultiProcessCollector(recorded, path=directory)  # type: ignore[no-untyped-call]
    else:
        recorded = REGISTRY
    now = CollectorRegistry()
    now.register(values)
    return generate_latest(recorded) + generate_latest(now)
