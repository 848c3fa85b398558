"""FastAPI's own OpenTelemetry: off unless IMAGINE_OPENTELEMETRY asks for it; then every request,
the edge's hot routes too, is a span of the process's global tracer provider."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any

import pytest
from opentelemetry import trace
from opentelemetry.util._once import Once

from imagine_gateway.runtime import Overrides
from tests.conftest import Gateway


class RecordingTracer(trace.Tracer):
    """Keeps each span's name and path; its spans record nothing else."""

    def __init__(self, started: list[tuple[str, object]]) -> None:
        self.started = started

    def start_span(
        self, name: str, *args: Any, attributes: Mapping[str, Any] | None = None, **kwargs: Any
    ) -> Any:
        self.started.append((name, (attributes or {}).get("url.path")))
        return trace.NonRecordingSpan(trace.INVALID_SPAN_CONTEXT)

    def start_as_current_span(self, name: str, *args: Any, **kwargs: Any) -> Any:
        return trace.use_span(self.start_span(name, *args, **kwargs), end_on_exit=True)


class RecordingProvider(trace.TracerProvider):
    def __init__(self) -> None:
        self.started: list[tuple[str, object]] = []

    def get_tracer(self, *args: Any, **kwargs: Any) -> trace.Tracer:
        return RecordingTracer(self.started)


@pytest.fixture
def tracer_provider(monkeypatch: pytest.MonkeyPatch) -> Iterator[RecordingProvider]:
    """A global tracer provider for this test only, as `opentelemetry-instrument` would set one."""
    provider = RecordingProvider()
    # The API lets a process set its provider only once: this test sets it under a "once" of its
    # own, and monkeypatch puts the process's back (and its provider, none) when the test ends.
    monkeypatch.setattr(trace, "_TRACER_PROVIDER_SET_ONCE", Once())
    monkeypatch.setattr(trace, "_TRACER_PROVIDER", None)
    trace.set_tracer_provider(provider)
    yield provider


def request_paths(gateway: Gateway, key_headers: Mapping[str, str]) -> Sequence[str]:
    paths = ["/api/v1/models", "/api/v1/credits/ledger", "/api/v1/generations?limit=2"]
    for path in paths:
        answered = gateway.http.get(path, headers=key_headers)
        assert answered.status_code == 200, answered.text
    return [path.split("?")[0] for path in paths]


def test_fastapis_telemetry_stays_off_by_default_even_with_a_global_provider(
    tracer_provider: RecordingProvider, gateway_factory: Callable[..., Gateway]
) -> None:
    gateway = gateway_factory(overrides=Overrides(run_worker=False))
    key = gateway.key(credits=10)

    request_paths(gateway, key.headers)

    assert tracer_provider.started == []


def test_with_opentelemetry_on_every_request_is_a_span_of_the_global_provider(
    tracer_provider: RecordingProvider, gateway_factory: Callable[..., Gateway]
) -> None:
    gateway = gateway_factory(overrides=Overrides(run_worker=False), opentelemetry=True)
    key = gateway.key(credits=10)

    paths = request_paths(gateway, key.headers)

    assert [(name, path) for name, path in tracer_provider.started if name == "GET"] == [
        ("GET", path) for path in paths
    ]
