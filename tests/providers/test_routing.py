"""Routing across providers from a providers file: failover, circuit breaking, credentials."""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from typing import Any

from imagine_gateway.providers.health import Breaker
from imagine_gateway.providers.routing import Lane, order
from imagine_gateway.providers.sandbox import SandboxProvider
from tests.conftest import Gateway
from tests.providers.conftest import StartMock, balance, create, task_row, wait_until

VIDEO = "grok-imagine-video"
SUBMIT = "POST /v1/videos/generations"
PROBE = "GET /v1/videos/{request_id}"


def xai_entry(name: str, base_url: str, priority: int, *, key: str = "test-key", extra: str = "") -> str:
    return f"""
[[providers]]
name = "{name}"
kind = "xai"
base_url = "{base_url}"
api_key = "{key}"
priority = {priority}
{extra}
"""


def test_new_tasks_fail_over_when_a_provider_dies_and_its_in_flight_tasks_end_at_the_deadline(
    upstream: StartMock, routed_gateway: Callable[..., Gateway]
) -> None:
    primary = upstream("xai", generation_time_s=30)
    backup = upstream("xai")
    gateway = routed_gateway(
        xai_entry("primary", primary.base_url, 1) + xai_entry("backup", backup.base_url, 2),
        task_deadline_s=2.5,
    )
    key = gateway.key(credits=100)
    in_flight = [create(gateway, key, VIDEO)["id"] for _ in range(2)]
    for task_id in in_flight:
        gateway.wait_for(task_id, key, statuses=("processing",))

    primary.stop()
    after = [create(gateway, key, VIDEO)["id"] for _ in range(2)]

    assert [gateway.wait_for(t, key)["status"] for t in after] == ["succeeded", "succeeded"]
    assert [task_row(gateway, t).provider for t in after] == ["backup", "backup"]
    ended = [gateway.wait_for(t, key)["error"] for t in in_flight]
    assert ended == [{"code": "upstream_timeout", "message": "The upstream did not finish within 2.5 s."}] * 2
    assert [task_row(gateway, t).provider for t in in_flight] == ["primary", "primary"]
    # Only the two new tasks reached the backup: nothing in flight was resubmitted.
    assert backup.mock.stats.by_endpoint[SUBMIT] == 2
    assert balance(gateway, key) == 100 - 2 * 10


def test_in_flight_tasks_finish_on_their_provider_when_it_comes_back(
    upstream: StartMock, routed_gateway: Callable[..., Gateway]
) -> None:
    primary = upstream("xai", generation_time_s=0.5)
    backup = upstream("xai")
    gateway = routed_gateway(
        xai_entry("primary", primary.base_url, 1) + xai_entry("backup", backup.base_url, 2)
    )
    key = gateway.key(credits=100)
    task_id = create(gateway, key, VIDEO)["id"]
    gateway.wait_for(task_id, key, statuses=("processing",))

    primary.mock.config.failure, primary.mock.config.failure_on = "reset", "poll"
    wait_until(lambda: primary.mock.stats.faults["reset"] >= 3)
    primary.mock.config.failure = "none"

    assert gateway.wait_for(task_id, key)["status"] == "succeeded"
    assert (task_row(gateway, task_id).provider, backup.mock.stats.total) == ("primary", 0)


def test_a_failing_provider_is_taken_out_and_put_back_by_a_probe(
    upstream: StartMock, routed_gateway: Callable[..., Gateway]
) -> None:
    primary = upstream("xai", failure="http_500", failure_on="submit")
    backup = upstream("xai")
    breaker = "failure_threshold = 2\ncool_down_s = 0.5"
    gateway = routed_gateway(
        xai_entry("primary", primary.base_url, 1, extra=breaker) + xai_entry("backup", backup.base_url, 2)
    )
    key = gateway.key(credits=100)

    first = []
    for _ in range(4):  # one at a time, so each submit sees the breaker the previous ones left
        first.append(create(gateway, key, VIDEO)["id"])
        gateway.wait_for(first[-1], key, statuses=("processing", "succeeded"))
    assert [gateway.wait_for(t, key)["status"] for t in first] == ["succeeded"] * 4
    # Two failures opened the breaker; the other tasks went straight to the backup.
    assert primary.mock.stats.by_endpoint[SUBMIT] == 2
    assert [task_row(gateway, t).provider for t in first] == ["backup"] * 4

    primary.mock.config.failure = "none"
    wait_until(lambda: primary.mock.stats.by_endpoint[PROBE] >= 1)
    wait_until(lambda: gateway.ctx.router.health()["primary"] == "closed")
    again = create(gateway, key, VIDEO)["id"]

    assert gateway.wait_for(again, key)["status"] == "succeeded"
    assert task_row(gateway, again).provider == "primary"
    assert backup.mock.stats.by_endpoint[SUBMIT] == 4


def test_a_failed_probe_keeps_the_provider_out(
    upstream: StartMock, routed_gateway: Callable[..., Gateway]
) -> None:
    primary = upstream("xai", failure="http_500", failure_on="both")
    backup = upstream("xai")
    breaker = "failure_threshold = 1\ncool_down_s = 0.2"
    gateway = routed_gateway(
        xai_entry("primary", primary.base_url, 1, extra=breaker) + xai_entry("backup", backup.base_url, 2)
    )
    key = gateway.key(credits=100)
    task_id = create(gateway, key, VIDEO)["id"]

    wait_until(lambda: primary.mock.stats.by_endpoint[PROBE] >= 2)

    assert gateway.ctx.router.health()["primary"] in ("open", "probing")
    assert gateway.wait_for(task_id, key)["status"] == "succeeded"
    assert primary.mock.stats.by_endpoint[SUBMIT] == 1


def test_a_task_is_polled_with_the_credential_it_was_submitted_with(
    upstream: StartMock, routed_gateway: Callable[..., Gateway]
) -> None:
    mock = upstream("xai", api_key="good-key")
    gateway = routed_gateway(
        f"""
[[providers]]
name = "pool"
kind = "xai"
base_url = "{mock.base_url}"
api_keys = ["revoked-key", "good-key"]
"""
    )
    key = gateway.key(credits=100)

    tasks = [create(gateway, key, VIDEO)["id"] for _ in range(4)]

    assert [gateway.wait_for(t, key)["status"] for t in tasks] == ["succeeded"] * 4
    assert {task_row(gateway, t).provider for t in tasks} == {"pool#1"}
    assert {r.headers["authorization"] for r in mock.mock.stats.received if r.job_id} == {"Bearer good-key"}


def test_no_provider_serving_the_params_fails_validation_listing_what_each_serves(
    upstream: StartMock, routed_gateway: Callable[..., Gateway]
) -> None:
    gateway = routed_gateway(
        xai_entry("xai", "http://127.0.0.1:9", 1)
        + """
[[providers]]
name = "short-videos"
kind = "xai_compatible"
base_url = "http://127.0.0.1:9"
api_key = "k"
[providers.models]
"grok-imagine-video" = { upstream_model = "grok-imagine-video", max_duration = 10 }
"""
    )
    key = gateway.key(credits=100)

    response = gateway.http.post(
        "/api/v1/generations",
        headers=key.headers,
        json={"model": VIDEO, "prompt": "A long take", "params": {"duration": 12, "mode": "fun"}},
    )

    assert (response.status_code, response.json()["error"]["details"]) == (
        400,
        [
            {"field": "params.mode", "issue": "xai: 'fun' is not served (serves normal)"},
            {"field": "params.duration", "issue": "short-videos: 12 is above 10 (serves 1..10)"},
        ],
    )
    image = gateway.http.post(
        "/api/v1/generations", headers=key.headers, json={"model": "grok-imagine", "prompt": "A cat"}
    )
    assert image.status_code == 202  # xai serves images; the relay does not, and need not


def sandbox(name: str) -> SandboxProvider:
    provider = SandboxProvider(latency_s=0, failure_rate=0, fps=1)
    provider.name = name
    return provider


def lane(name: str, priority: int, weight: float) -> Lane:
    return Lane(sandbox(name), priority=priority, weight=weight, breaker=Breaker(1, 1.0))


def test_order_puts_priorities_first_and_splits_equal_priorities_by_weight() -> None:
    lanes = [lane("heavy", 2, 3.0), lane("light", 2, 1.0), lane("first", 1, 1.0)]
    rng = random.Random(7)

    orders = [[x.name for x in order(lanes, rng)] for _ in range(4000)]

    assert {o[0] for o in orders} == {"first"}
    share = sum(o[1] == "heavy" for o in orders) / len(orders)
    assert 0.72 < share < 0.78


def test_breaker_opens_after_the_threshold_and_honours_retry_after() -> None:
    now = [0.0]
    breaker = Breaker(failure_threshold=2, cool_down_s=5.0, now_s=lambda: now[0])

    breaker.record_failure(retry_after_s=3.0)
    states: list[Any] = [breaker.allows_new_work(), breaker.state]
    now[0] = 3.0
    states += [breaker.allows_new_work()]
    breaker.record_failure()
    states += [breaker.state, breaker.probe_due()]
    now[0] = 8.0
    states += [breaker.probe_due(), breaker.state]
    breaker.probe_result(True)
    states += [breaker.state, breaker.allows_new_work()]

    assert states == [False, "closed", True, "open", False, True, "probing", "closed", True]


def test_a_short_generation_never_waits_on_a_slow_poll_schedule(
    upstream: StartMock, routed_gateway: Callable[..., Gateway]
) -> None:
    mock = upstream("xai")
    gateway = routed_gateway(xai_entry("only", mock.base_url, 1))
    key = gateway.key(credits=100)

    started = time.monotonic()
    task_id = create(gateway, key, "grok-imagine")["id"]

    assert gateway.wait_for(task_id, key)["status"] == "succeeded"
    assert time.monotonic() - started < 3.0
