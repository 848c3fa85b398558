"""The edge's hot routes answer as the FastAPI routes of the same paths do: the same bodies, the
same headers, the same errors; what only FastAPI's validation should answer goes to it."""

from __future__ import annotations

from collections.abc import Callable

import httpx

from imagine_gateway.runtime import Overrides
from tests.conftest import Gateway, Key
from tests.matchers import REQUEST_ID, Matches, error_body


def make_tasks(gateway: Gateway, key: Key, count: int) -> list[str]:
    made = []
    for i in range(count):
        created = gateway.http.post(
            "/api/v1/generations", headers=key.headers, json={"model": "grok-imagine", "prompt": f"fox {i}"}
        )
        assert created.status_code == 202, created.text
        made.append(created.json()["id"])
    return made


def common_headers(response: httpx.Response) -> dict[str, object]:
    return {
        name: response.headers.get(name)
        for name in ("content-type", "x-ratelimit-limit", "x-ratelimit-remaining", "x-request-id")
    }


def test_a_list_served_by_the_edge_equals_the_one_fastapi_serves(
    gateway_factory: Callable[..., Gateway],
) -> None:
    # No worker: the tasks stay queued, so the two lists are read of the same rows.
    gateway = gateway_factory(overrides=Overrides(run_worker=False))
    key = gateway.key(credits=100, rate_limit="1000/minute")
    ids = make_tasks(gateway, key, 3)

    # A repeated value is left to FastAPI's route, which takes the last one: the same query.
    for query in ("limit=2", "model=grok-imagine&status=queued&limit=2"):
        hot = gateway.http.get(f"/api/v1/generations?{query}", headers=key.headers)
        framework = gateway.http.get(f"/api/v1/generations?{query}&limit=2", headers=key.headers)

        assert (hot.status_code, framework.status_code) == (200, 200)
        assert hot.json() == framework.json()
        assert [task["id"] for task in hot.json()["data"]] == ids[::-1][:2]
        assert hot.json()["has_more"] is True
        expected = {
            "content-type": "application/json",
            "x-ratelimit-limit": "1000",
            "x-request-id": REQUEST_ID,
        }
        assert common_headers(hot) == {**expected, "x-ratelimit-remaining": Matches(r"\d+")}
        assert common_headers(framework) == {**expected, "x-ratelimit-remaining": Matches(r"\d+")}
        # Each counted once against the key's limit.
        remaining = int(hot.headers["x-ratelimit-remaining"])
        assert int(framework.headers["x-ratelimit-remaining"]) == remaining - 1

    following = gateway.http.get(
        "/api/v1/generations", params={"limit": 2, "cursor": hot.json()["next_cursor"]}, headers=key.headers
    )
    assert [task["id"] for task in following.json()["data"]] == [ids[0]]


def test_a_malformed_list_limit_gets_fastapis_validation_error_naming_the_field(gateway: Gateway) -> None:
    key = gateway.key(credits=10)
    for value, issue in (
        ("0", "Input should be greater than or equal to 1"),
        ("101", "Input should be less than or equal to 100"),
        ("ten", "Input should be a valid integer, unable to parse string as an integer"),
        ("9" * 5000, "Unable to parse input string as an integer, exceeded maximum size"),
    ):
        refused = gateway.http.get(f"/api/v1/generations?limit={value}", headers=key.headers)

        assert refused.status_code == 400
        assert refused.json() == error_body(
            "validation_failed", f"limit: {issue}", [{"field": "limit", "issue": issue}]
        )


def test_a_list_without_a_key_is_refused_before_its_query_is_read(gateway: Gateway) -> None:
    refused = gateway.http.get("/api/v1/generations?limit=5")
    assert refused.status_code == 401
    assert refused.json()["error"]["code"] == "api_key_missing"
