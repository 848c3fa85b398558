"""Prices on the native API: each model shows its rule, and POST /api/v1/generations/price answers
what a create would reserve, validating exactly as create does, creating nothing."""

from __future__ import annotations

from typing import Any

import pytest

from imagine_gateway import Client, Price, PriceLine
from tests.catalog.test_prices import OPERATOR_CATALOG
from tests.conftest import Gateway

VIDEO_15 = {
    "model": "grok-imagine-video-1.5",
    "prompt": "A fox",
    "params": {"duration": 6, "resolution": "720p"},
}


@pytest.fixture
def idle_gateway(gateway_factory: Any) -> Gateway:
    """A gateway whose worker does not run: tasks stay as created."""
    gw: Gateway = gateway_factory(run_worker=False)
    return gw


def test_every_model_shows_its_price_rule(idle_gateway: Gateway) -> None:
    models = {m["id"]: m for m in idle_gateway.http.get("/api/v1/models").json()["data"]}

    assert (models["grok-imagine"]["price"], models["grok-imagine"]["base_credits"]) == (
        {"billing": "fixed", "credits": 4, "rounding": "ceil"},
        4,
    )
    assert models["grok-imagine-video"]["price"] == {"billing": "fixed", "credits": 10, "rounding": "ceil"}
    assert models["grok-imagine-video-1.5"]["price"] == {
        "billing": "usage",
        "per_task": 0,
        "per_second": {"by": ["resolution"], "credits": {"480p": 16, "720p": 28, "1080p": 50}},
        "per_image": None,
        "per_input_image": 2,
        "per_input_video_second": 0,
        "assume": {"resolution": "480p"},
        "mode_assume": {},
        "minimum_credits": 1,
        "rounding": "ceil",
    }
    image = idle_gateway.http.get("/api/v1/models/grok-imagine-image-2.0").json()["price"]
    assert (image["per_image"], image["assume"], image["mode_assume"]) == (
        {
            "by": ["quality", "resolution"],
            "credits": {"low": {"1k": 8, "1.5k": 10, "2k": 12}, "medium": {"1k": 12, "1.5k": 14, "2k": 16}},
        },
        {"quality": "low", "resolution": "1k"},
        {"image-edit": {"quality": "medium"}},
    )


def test_a_price_preview_is_what_the_create_reserves_and_creates_nothing(idle_gateway: Gateway) -> None:
    key = idle_gateway.key(credits=1000)

    preview = idle_gateway.http.post("/api/v1/generations/price", headers=key.headers, json=VIDEO_15)
    after_preview = idle_gateway.http.get("/api/v1/credits", headers=key.headers).json()
    listed = idle_gateway.http.get("/api/v1/generations", headers=key.headers).json()

    assert preview.status_code == 200
    assert preview.json() == {
        "object": "price",
        "model": "grok-imagine-video-1.5",
        "credits": 168,
        "breakdown": [{"item": "output_seconds", "quantity": 6, "unit_credits": 28, "credits": 168}],
        "price": idle_gateway.http.get("/api/v1/models/grok-imagine-video-1.5").json()["price"],
    }
    assert (after_preview["balance"], after_preview["reserved"], listed["data"]) == (1000, 0, [])

    created = idle_gateway.http.post("/api/v1/generations", headers=key.headers, json=VIDEO_15).json()
    credits = idle_gateway.http.get("/api/v1/credits", headers=key.headers).json()
    assert (created["reserved_credits"], credits["balance"], credits["reserved"]) == (168, 832, 168)
    assert created["billing"] is None  # shown once the task has ended


@pytest.mark.parametrize(
    ("body", "credits", "breakdown"),
    [
        ({"model": "grok-imagine", "prompt": "a fox"}, 4, [("task", 1, 4, 4)]),
        (
            {"model": "grok-imagine-video", "prompt": "a fox", "params": {"duration": 30}},
            10,
            [("task", 1, 10, 10)],
        ),
        (
            {"model": "grok-imagine-image-2.0", "prompt": "a fox", "params": {"n": 3, "resolution": "2k"}},
            36,
            [("output_images", 3, 12, 36)],
        ),
        (
            {"model": "grok-imagine-image-quality", "prompt": "a fox", "params": {"n": 2}},
            16,
            [("output_images", 2, 8, 16)],
        ),
        ({"model": "grok-imagine-video-1.5-lite", "prompt": "a fox", "params": {"duration": 15}}, 60, None),
    ],
)
def test_the_preview_prices_every_kind_of_rule(
    idle_gateway: Gateway, body: dict[str, Any], credits: int, breakdown: list[tuple[Any, ...]] | None
) -> None:
    key = idle_gateway.key(credits=0)  # a preview needs no credits: it reserves nothing

    answer = idle_gateway.http.post("/api/v1/generations/price", headers=key.headers, json=body).json()

    assert answer.get("credits") == credits, answer
    if breakdown is not None:
        assert [tuple(line.values()) for line in answer["breakdown"]] == breakdown, answer


@pytest.mark.parametrize(
    "body",
    [
        {"model": "grok-imagine-video-1.5", "prompt": "A fox", "params": {"duration": 16}},
        {"model": "no-such-model", "prompt": "A fox"},
        {"model": "grok-imagine", "prompt": ""},
        {
            "model": "grok-imagine-video-1.5",
            "prompt": "A fox",
            "params": {"referenceMediaItems": [{"kind": "image"}]},
        },
        {"model": "grok-imagine", "prompt": "a fox", "webhook_url": "http://127.0.0.1/hook"},
    ],
)
def test_the_preview_refuses_what_create_refuses_with_the_same_error(
    idle_gateway: Gateway, body: dict[str, Any]
) -> None:
    key = idle_gateway.key(credits=1000)

    preview = idle_gateway.http.post("/api/v1/generations/price", headers=key.headers, json=body)
    create = idle_gateway.http.post("/api/v1/generations", headers=key.headers, json=body)

    def without_request_id(response: Any) -> tuple[int, dict[str, Any]]:
        error = dict(response.json()["error"])
        error.pop("requestId")
        return response.status_code, error

    assert preview.status_code in (400, 422)
    assert without_request_id(preview) == without_request_id(create)
    credits = idle_gateway.http.get("/api/v1/credits", headers=key.headers).json()
    assert (credits["balance"], credits["reserved"]) == (1000, 0)


def test_a_preview_needs_the_create_scope(idle_gateway: Gateway) -> None:
    reader = idle_gateway.key(scopes=["generations:read"])

    answer = idle_gateway.http.post("/api/v1/generations/price", headers=reader.headers, json=VIDEO_15)

    assert (answer.status_code, answer.json()["error"]["code"]) == (403, "api_scope_denied")


def test_the_sdk_previews_a_price(idle_gateway: Gateway) -> None:
    key = idle_gateway.key(credits=10)

    with Client(base_url=idle_gateway.base_url, api_key=key.secret) as client:
        quote = client.generations.price(
            model="grok-imagine-video-1.5", prompt="A fox", params={"duration": 2, "resolution": "720p"}
        )

    assert isinstance(quote, Price)
    assert (quote.model, quote.credits, quote.breakdown, quote.price["billing"]) == (
        "grok-imagine-video-1.5",
        56,
        [PriceLine(item="output_seconds", quantity=2, unit_credits=28, credits=56)],
        "usage",
    )


def test_an_operators_catalog_file_prices_the_gateways_requests(gateway_factory: Any, tmp_path: Any) -> None:
    path = tmp_path / "catalog.toml"
    path.write_text(OPERATOR_CATALOG)
    gateway: Gateway = gateway_factory(run_worker=False, catalog_file=path)
    key = gateway.key(credits=1000)
    body = {
        "model": "grok-imagine-video",
        "prompt": "A fox",
        "params": {"duration": 15, "resolution": "720p"},
    }

    shown = gateway.http.get("/api/v1/models/grok-imagine-video").json()
    preview = gateway.http.post("/api/v1/generations/price", headers=key.headers, json=body).json()
    created = gateway.http.post("/api/v1/generations", headers=key.headers, json=body).json()

    assert (shown["price"]["billing"], shown["price"]["minimum_credits"]) == ("usage", 20)
    assert shown["price"]["per_second"] == {"by": ["resolution"], "credits": {"480p": 10, "720p": 14}}
    assert (preview["credits"], created["reserved_credits"]) == (210, 210)
