"""/metrics after a run of mixed traffic: its counters equal what happened."""

from __future__ import annotations

from collections.abc import Callable

import httpx
from prometheus_client.parser import text_string_to_metric_families

from tests.conftest import Gateway
from tests.providers.conftest import StartMock, create

VIDEO = "grok-imagine-video"
SUBMIT = "POST /v1/videos/generations"
POLL = "GET /v1/videos/{request_id}"
Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


def scrape(gateway: Gateway, **headers: str) -> Samples:
    response = gateway.http.get("/metrics", headers=headers)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/plain; version=")
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(response.text)
        for sample in family.samples
    }


def delta(before: Samples, after: Samples, name: str, **labels: str) -> float:
    """How much the samples named ``name`` whose labels include ``labels`` grew."""

    def total(samples: Samples) -> float:
        return sum(
            value
            for (sample, sample_labels), value in samples.items()
            if sample == name and set(labels.items()) <= sample_labels
        )

    return total(after) - total(before)


def test_counters_after_mixed_traffic_equal_the_tasks_credits_and_upstream_calls(
    upstream: StartMock, xai_gateway: Callable[..., Gateway]
) -> None:
    # One job of the upstream fails; the others succeed; one more task is canceled while queued.
    mock = upstream("xai", failure="failed", fail_times=1)
    gateway = xai_gateway(mock)
    key = gateway.key(credits=10_000)
    before = scrape(gateway)

    tasks = [create(gateway, key, VIDEO)["id"] for _ in range(4)]
    done = [gateway.wait_for(t, key) for t in tasks]
    missing = gateway.http.get("/api/v1/generations/gen_nope", headers=key.headers)
    after = scrape(gateway)

    succeeded = [d for d in done if d["status"] == "succeeded"]
    failed = [d for d in done if d["status"] == "failed"]
    assert (len(succeeded), len(failed), missing.status_code) == (3, 1, 404)
    assert delta(before, after, "imagine_tasks_created_total", model=VIDEO, dialect="native") == 4
    assert delta(before, after, "imagine_tasks_ended_total", model=VIDEO, state="succeeded") == 3
    assert delta(before, after, "imagine_tasks_ended_total", model=VIDEO, state="failed") == 1
    assert delta(before, after, "imagine_credits_total", kind="reserve") == sum(
        d["reserved_credits"] for d in done
    )
    assert delta(before, after, "imagine_credits_total", kind="capture") == sum(
        d["reserved_credits"] for d in succeeded
    )
    assert delta(before, after, "imagine_credits_total", kind="release") == failed[0]["reserved_credits"]
    stats = mock.mock.stats.by_endpoint
    assert (
        delta(before, after, "imagine_upstream_requests_total", provider="xai", endpoint="submit")
        == stats[SUBMIT]
    )
    assert (
        delta(before, after, "imagine_upstream_requests_total", provider="xai", endpoint="poll")
        == stats[POLL]
    )
    assert (
        delta(
            before,
            after,
            "imagine_upstream_request_duration_seconds_count",
            provider="xai",
            endpoint="submit",
        )
        == stats[SUBMIT]
    )
    assert delta(before, after, "imagine_collected_assets_total", provider="xai") == 3
    assert delta(before, after, "imagine_collected_bytes_total", provider="xai") > 0
    route = "/api/v1/generations"
    assert delta(before, after, "imagine_http_requests_total", route=route, method="POST", status="202") == 4
    assert (
        delta(
            before,
            after,
            "imagine_http_requests_total",
            route="/api/v1/generations/{task_id}",
            dialect="native",
            status="404",
        )
        == 1
    )
    # Live tasks are read from the database at scrape time: none is left.
    assert [k for k, v in after.items() if k[0] == "imagine_tasks" and v] == []
    assert after[("imagine_queue_depth", frozenset())] == 0
    assert (
        after[("imagine_provider_breaker_state", frozenset({("provider", "xai"), ("state", "closed")}))] == 1
    )
    # No task or account id in any label.
    labels = {value for _, sample_labels in after for _, value in sample_labels}
    assert not any(t in labels for t in tasks) and key.account_id not in labels


def test_metrics_with_a_token_configured_ask_for_it(gateway_factory: Callable[..., Gateway]) -> None:
    gateway = gateway_factory(metrics_token="scrape-token-0123456789")

    refused = gateway.http.get("/metrics")
    wrong = gateway.http.get("/metrics", headers={"Authorization": "Bearer nope"})
    allowed = gateway.http.get("/metrics", headers={"Authorization": "Bearer scrape-token-0123456789"})

    assert (refused.status_code, refused.headers["www-authenticate"]) == (401, "Bearer")
    assert refused.json() == {
        "error": {"code": "unauthorized", "message": "Metrics need the configured bearer token."}
    }
    assert wrong.status_code == 401
    assert allowed.status_code == 200
    assert "imagine_http_requests_total" in allowed.text


def test_metrics_are_not_in_the_openapi_document(gateway: Gateway) -> None:
    paths = httpx.get(f"{gateway.base_url}/api/v1/openapi.json").json()["paths"]

    assert {"/metrics", "/healthz", "/readyz"} & set(paths) == set()
