"""Every catalog model runs end to end through the xai provider against the mock xAI API."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from imagine_gateway.catalog.loader import load_catalog
from imagine_gateway.providers.xai_bodies import user_id
from tests.conftest import Gateway
from tests.matchers import media_url
from tests.providers.conftest import UPSTREAM_KEY, StartMock, balance, create, task_row


@pytest.mark.parametrize(
    ("model", "params", "endpoint", "upstream_body", "cost_ticks"),
    [
        (
            "grok-imagine",
            {},
            "POST /v1/images/generations",
            {
                "model": "grok-imagine-image",
                "prompt": "A lighthouse at dusk",
                "n": 1,
                "deferred": True,
                "aspect_ratio": "1:1",
            },
            200_000_000,
        ),
        (
            "grok-imagine",
            {"enable_pro": "true", "aspect_ratio": "16:9"},
            "POST /v1/images/generations",
            {
                "model": "grok-imagine-image-2.0",
                "prompt": "A lighthouse at dusk",
                "n": 1,
                "deferred": True,
                "aspect_ratio": "16:9",
                "quality": "low",
            },
            400_000_000,
        ),
        (
            "grok-imagine-video",
            {"duration": 6},
            "POST /v1/videos/generations",
            {
                "model": "grok-imagine-video",
                "prompt": "A lighthouse at dusk",
                "duration": 6,
                "aspect_ratio": "2:3",
                "resolution": "480p",
            },
            3_000_000_000,
        ),
        (
            "grok-imagine-video-1.5-preview",
            {"duration": 2, "resolution": "720p", "aspect_ratio": "9:16"},
            "POST /v1/videos/generations",
            {
                "model": "grok-imagine-video-1.5",
                "prompt": "A lighthouse at dusk",
                "duration": 2,
                "aspect_ratio": "9:16",
                "resolution": "720p",
            },
            2_800_000_000,
        ),
    ],
    ids=["image", "image-quality", "video", "video-1.5-preview"],
)
def test_catalog_model_succeeds_through_xai_with_the_exact_upstream_request(
    upstream: StartMock,
    xai_gateway: Callable[..., Gateway],
    model: str,
    params: dict[str, Any],
    endpoint: str,
    upstream_body: dict[str, Any],
    cost_ticks: int,
) -> None:
    mock = upstream("xai")
    gateway = xai_gateway(mock)
    key = gateway.key(credits=100)

    task = create(gateway, key, model, params)
    done = gateway.wait_for(task["id"], key)

    assert done["status"] == "succeeded", done["error"]
    kind = "png" if endpoint.startswith("POST /v1/images") else "mp4"
    url = media_url(gateway.base_url, f"results/{task['id']}/0\\.{kind}")
    # The mock serves a 1 s clip for every video: 1.5 settles to that second at 720p (28 of 56).
    charged = 28 if model == "grok-imagine-video-1.5-preview" else task["reserved_credits"]
    assert (done["result"]["primary_url"], done["final_credits"]) == (url, charged)
    received = mock.mock.stats.received
    upstream_body = {**upstream_body, "user": user_id(key.account_id, gateway.settings.signing_key)}
    assert [(r.endpoint, r.body, r.headers["authorization"]) for r in received] == [
        (endpoint, upstream_body, f"Bearer {UPSTREAM_KEY}")
    ]
    row = task_row(gateway, task["id"])
    assert (row.provider, row.upstream_id, row.upstream_cost_ticks) == ("xai", received[0].job_id, cost_ticks)
    assert balance(gateway, key) == 100 - charged


def test_every_catalog_model_is_covered_above_or_in_the_modes_test() -> None:
    # test_xai_modes.py covers every model in every mode; these are the seeds' ids and one alias.
    assert {m.id for m in load_catalog()} == {
        "grok-imagine",
        "grok-imagine-video",
        "grok-imagine-video-1.5",
        "grok-imagine-video-1.5-lite",
        "grok-imagine-image",
        "grok-imagine-image-2.0",
    }


def test_params_xai_cannot_serve_fail_validation_saying_what_it_serves(
    upstream: StartMock, xai_gateway: Callable[..., Gateway]
) -> None:
    mock = upstream("xai")
    gateway = xai_gateway(mock)
    key = gateway.key(credits=100)

    response = gateway.http.post(
        "/api/v1/generations",
        headers=key.headers,
        json={"model": "grok-imagine-video", "prompt": "A long take", "params": {"duration": 20}},
    )

    assert response.status_code == 400
    error = response.json()["error"]
    assert (error["code"], error["message"], error["details"]) == (
        "validation_failed",
        "No configured provider can serve this: params.duration: xai: 20 is above 15 (serves 1..15)",
        [{"field": "params.duration", "issue": "xai: 20 is above 15 (serves 1..15)"}],
    )
    assert balance(gateway, key) == 100
    assert mock.mock.stats.total == 0


def test_a_mode_xai_does_not_have_fails_validation(
    upstream: StartMock, xai_gateway: Callable[..., Gateway]
) -> None:
    gateway = xai_gateway(upstream("xai"))
    key = gateway.key(credits=100)

    response = gateway.http.post(
        "/api/v1/generations",
        headers=key.headers,
        json={"model": "grok-imagine-video", "prompt": "A joke", "params": {"mode": "spicy"}},
    )

    assert (response.status_code, response.json()["error"]["details"]) == (
        400,
        [{"field": "params.mode", "issue": "xai: 'spicy' is not served (serves normal)"}],
    )
