"""The catalog's prices: every model and param combination against xAI's price table, the rule each
entry's data makes, and an operator's catalog file replacing a price."""

from __future__ import annotations

import itertools
import math
from fractions import Fraction
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from imagine_gateway.catalog.contract import ModelContract
from imagine_gateway.catalog.loader import CatalogError, load_catalog
from imagine_gateway.catalog.prices import delivered_credits, quote, usage_of
from imagine_gateway.core.pricing import PriceRule, Table, Usage
from imagine_gateway.core.results import StoredAsset, StoredResult
from imagine_gateway.testing.mock_upstreams import xai_rules

CATALOG = load_catalog()
USD_PER_CREDIT = Fraction(5, 1000)
# xAI's prices in USD (xAI's documentation and its resellers' copies, late 2026); lite above 480p
# is unpublished and priced at the catalog's stated estimate.
VIDEO_USD_PER_S = {
    "grok-imagine-video-1.5": {"480p": "0.08", "720p": "0.14", "1080p": "0.25"},
    "grok-imagine-video-1.5-lite": {"480p": "0.02", "720p": "0.04", "1080p": "0.065"},
}
VIDEO_INPUT_IMAGE_USD = "0.01"
IMAGE_V2_USD = {
    ("low", "1k"): "0.04",
    ("low", "1.5k"): "0.05",
    ("low", "2k"): "0.06",
    ("medium", "1k"): "0.06",
    ("medium", "1.5k"): "0.07",
    ("medium", "2k"): "0.08",
}
IMAGE_V1_USD = "0.02"  # per output image, and per source image of an edit ("input + output image")
IMAGE_V2_INPUT_USD = "0.01"


def credits_for(usd: Fraction) -> int:
    return math.ceil(usd / USD_PER_CREDIT)


def images(count: int, role: str) -> list[dict[str, Any]]:
    return [{"url": f"https://example.test/{i}.png", "kind": "image", "role": role} for i in range(count)]


def video_cases() -> list[tuple[str, dict[str, Any], Fraction]]:
    cases = []
    for model, per_s in VIDEO_USD_PER_S.items():
        for resolution, duration in itertools.product(per_s, range(1, 16)):
            for frames in (0, 1):
                params: dict[str, Any] = {"duration": duration, "resolution": resolution}
                if frames:
                    params["referenceMediaItems"] = images(1, "first_frame")
                usd = Fraction(per_s[resolution]) * duration + frames * Fraction(VIDEO_INPUT_IMAGE_USD)
                cases.append((model, params, usd))
    per_s = VIDEO_USD_PER_S["grok-imagine-video-1.5"]
    for resolution, duration, count in itertools.product(("480p", "720p"), (1, 10, 15), range(1, 8)):
        params = {
            "duration": duration,
            "resolution": resolution,
            "referenceMediaItems": images(count, "reference"),
        }
        usd = Fraction(per_s[resolution]) * duration + count * Fraction(VIDEO_INPUT_IMAGE_USD)
        cases.append(("grok-imagine-video-1.5", params, usd))
    return cases


def image_cases() -> list[tuple[str, dict[str, Any], Fraction]]:
    cases = []
    for n, sources in itertools.product(range(1, 11), range(4)):
        params: dict[str, Any] = {"n": n}
        if sources:
            params["referenceMediaItems"] = images(sources, "source")
        cases.append(("grok-imagine-image", params, (n + sources) * Fraction(IMAGE_V1_USD)))
    for (quality, resolution), n, sources in itertools.product(IMAGE_V2_USD, range(1, 11), range(6)):
        params = {"n": n, "quality": quality, "resolution": resolution}
        if sources:
            params["referenceMediaItems"] = images(sources, "source")
        usd = n * Fraction(IMAGE_V2_USD[(quality, resolution)]) + sources * Fraction(IMAGE_V2_INPUT_USD)
        cases.append(("grok-imagine-image-2.0", params, usd))
    return cases


XAI_CASES = video_cases() + image_cases()


def test_every_xai_model_and_param_combination_is_priced_as_xai_prices_it() -> None:
    wrong = [
        (model, params, quote(CATALOG.get(model), params).credits, credits_for(usd))  # type: ignore[arg-type]
        for model, params, usd in XAI_CASES
        if quote(CATALOG.get(model), params).credits != credits_for(usd)  # type: ignore[arg-type]
    ]

    assert len(XAI_CASES) == 622
    assert wrong == []


def mock_cost_ticks(model: str, params: dict[str, Any]) -> int:
    """What the xAI mock (written from xAI's documents) bills for the request."""
    refs = len(params.get("referenceMediaItems", []))
    if model in VIDEO_USD_PER_S:
        return xai_rules.video_cost_ticks(model, params["resolution"], params["duration"], refs, 0.0)
    family = xai_rules.IMAGE_MODELS[model]
    quality = params.get("quality", "auto")
    if quality == "auto":
        quality = "medium" if refs else "low"
    return xai_rules.image_cost_ticks(family, quality, params.get("resolution", "1k"), params["n"], refs)


def test_no_request_earns_less_than_xai_bills_for_it() -> None:
    losses = []
    for model, params, _ in XAI_CASES:
        revenue_ticks = quote(CATALOG.get(model), params).credits * USD_PER_CREDIT * xai_rules.TICKS_PER_USD  # type: ignore[arg-type]
        if revenue_ticks < mock_cost_ticks(model, params):
            losses.append((model, params))

    assert losses == []


@pytest.mark.parametrize(
    ("model", "params", "expected"),
    [
        ("grok-imagine-image-2.0", {"n": 1}, 8),  # absent quality is auto: low for a generation
        ("grok-imagine-image-2.0", {"n": 1, "quality": "auto"}, 8),
        ("grok-imagine-image-2.0", {"n": 1, "referenceMediaItems": images(1, "source")}, 14),  # medium edit
        ("grok-imagine-image-2.0", {"n": 2, "resolution": "2k"}, 24),
        ("grok-imagine-image-quality", {"n": 1, "quality": "low", "resolution": "2k"}, 12),
        ("grok-imagine-video-1.5", {"duration": 8}, 128),  # absent resolution: 480p
        ("grok-imagine-video-1.5-2026-05-30", {"duration": 15, "resolution": "1080p"}, 750),
        ("grok-imagine-video-1.5-lite", {"duration": 1, "resolution": "480p"}, 4),
    ],
)
def test_defaults_and_aliases_are_priced_as_xai_serves_them(
    model: str, params: dict[str, Any], expected: int
) -> None:
    resolved = CATALOG.resolve(model)
    assert resolved is not None
    contract, pinned = resolved

    assert quote(contract, {**params, **pinned}).credits == expected


@pytest.mark.parametrize(
    ("model", "combinations", "credits"),
    [
        ("grok-imagine", {"aspect_ratio": ["1:1", "16:9"], "enable_pro": ["false", "true"]}, 4),
        (
            "grok-imagine-video",
            {"duration": [6, 15, 30], "resolution": ["480p", "720p"], "mode": ["fun", "normal", "spicy"]},
            10,
        ),
    ],
)
def test_the_seed_models_keep_their_fixed_price_for_every_combination(
    model: str, combinations: dict[str, list[Any]], credits: int
) -> None:
    contract = CATALOG.get(model)
    assert contract is not None
    keys = list(combinations)
    prices = {
        quote(contract, dict(zip(keys, values, strict=True))).credits
        for values in itertools.product(*combinations.values())
    }
    with_reference = quote(contract, {"referenceMediaItems": images(1, "first_frame")}).credits

    assert (prices, with_reference, contract.base_credits, contract.price_rule) == (
        {credits},
        credits,
        credits,
        PriceRule.fixed(credits),
    )


def test_an_edit_reserves_its_inputs_length_or_the_longest_its_mode_takes() -> None:
    video = CATALOG.get("grok-imagine-video")
    assert video is not None
    edit = {"url": "https://example.test/in.mp4", "kind": "video", "role": "edit"}

    declared = usage_of(video, {"referenceMediaItems": [{**edit, "durationSeconds": 4.5}]})
    unknown = usage_of(video, {"referenceMediaItems": [edit]})

    assert (declared.mode, declared.output_seconds, declared.input_video_seconds) == (
        "video-edit",
        Fraction(9, 2),
        Fraction(9, 2),
    )
    assert (unknown.output_seconds, unknown.input_video_seconds) == (Fraction(87, 10), Fraction(87, 10))


def stored(kind: str, durations: list[float | None]) -> StoredResult:
    return StoredResult(
        tuple(
            StoredAsset(f"results/t/{i}", kind, "video/mp4", 10, "ab", 640, 360, d, None)
            for i, d in enumerate(durations)
        )
    )


def test_what_was_delivered_is_priced_by_the_same_rule() -> None:
    video = CATALOG.get("grok-imagine-video-1.5")
    image = CATALOG.get("grok-imagine-image-2.0")
    assert video is not None and image is not None
    params = {"duration": 8, "resolution": "720p", "referenceMediaItems": images(1, "first_frame")}

    assert delivered_credits(video, params, stored("video", [2.9666])) == 86  # 2.967 s x 28 + 2 = 85.07
    assert delivered_credits(video, params, stored("video", [None])) == 226  # unmeasured: as reserved
    assert delivered_credits(image, {"n": 4}, stored("image", [None, None])) == 16


def test_an_entry_without_a_price_table_is_priced_by_its_billing_type() -> None:
    entry = {
        "id": "m",
        "display_name": "M",
        "category": "video",
        "output": "video",
        "max_prompt_length": 10,
        "upstream_model": "m",
    }

    def rule(**fields: Any) -> PriceRule:
        return ModelContract.model_validate(entry | fields).price_rule

    assert rule(base_credits=10) == PriceRule.fixed(10)
    assert rule(base_credits=10, billing_type="FIXED", credits_per_second=3) == PriceRule.fixed(10)
    assert rule(base_credits=2, billing_type="PER_SECOND", credits_per_second=3) == PriceRule.usage(
        per_task=Fraction(2), per_second=Table.flat(3)
    )
    assert rule(base_credits=4, billing_type="PER_IMAGE") == PriceRule.usage(per_image=Table.flat(4))
    assert rule(base_credits=2, billing_type="PER_IMAGE").quote(Usage(output_images=3)).credits == 6


@pytest.mark.parametrize(
    ("price", "message"),
    [
        ({"billing": "fixed"}, "a fixed price needs credits"),
        ({"billing": "usage"}, "a usage price needs per_second, per_image or per_task"),
        ({"billing": "usage", "per_input_image": -1, "per_task": 1}, "credits cannot be negative"),
        ({"billing": "usage", "per_second": {"by": ["fps"], "credits": {"24": 1}}}, "not params of m"),
        ({"billing": "usage", "per_second": {"by": ["resolution"], "credits": 3}}, "must be an object by"),
        ({"billing": "hourly", "credits": 1}, "billing"),
    ],
)
def test_a_price_table_that_cannot_be_used_is_refused_when_the_catalog_loads(
    price: dict[str, Any], message: str
) -> None:
    entry = {
        "id": "m",
        "display_name": "M",
        "category": "video",
        "output": "video",
        "max_prompt_length": 10,
        "upstream_model": "m",
        "base_credits": 1,
        "params": [{"key": "resolution", "type": "select", "options": ["480p"]}],
        "price": price,
    }

    with pytest.raises(ValidationError, match=message):
        ModelContract.model_validate(entry)


OPERATOR_CATALOG = """
[[models]]
id = "grok-imagine-video"
display_name = "Grok Imagine Video"
category = "video"
output = "video"
base_credits = 10
billing_type = "PER_SECOND"
max_prompt_length = 5000
upstream_model = "grok-imagine-video"

[models.price]
billing = "usage"
minimum_credits = 20
per_input_image = 0.4
per_second = { by = ["resolution"], credits = { "480p" = 10, "720p" = 14 } }

[[models.params]]
key = "duration"
type = "number"
default = 6
min = 1
max = 15

[[models.params]]
key = "resolution"
type = "select"
default = "480p"
options = ["480p", "720p"]
"""


def test_an_operators_catalog_file_replaces_a_shipped_price(tmp_path: Path) -> None:
    path = tmp_path / "catalog.toml"
    path.write_text(OPERATOR_CATALOG)

    catalog = load_catalog(path)
    video = catalog.get("grok-imagine-video")
    assert video is not None

    assert quote(video, {"duration": 15, "resolution": "720p"}).credits == 210
    assert quote(video, {"duration": 1, "resolution": "480p"}).credits == 20  # the floor
    with_frame = {"duration": 6, "resolution": "480p", "referenceMediaItems": images(1, "first_frame")}
    assert quote(video, with_frame).credits == 61  # 60 + 0.4, rounded up once
    assert quote(CATALOG.get("grok-imagine-video"), {"duration": 15}).credits == 10  # type: ignore[arg-type]
    assert [m.id for m in catalog] == CATALOG.ids


def test_an_operators_catalog_with_an_unusable_price_names_the_file_and_the_model(tmp_path: Path) -> None:
    path = tmp_path / "catalog.toml"
    path.write_text(OPERATOR_CATALOG.replace('minimum_credits = 20', 'minimum_credits = 20\ncredits = 5'))

    with pytest.raises(CatalogError) as refused:
        load_catalog(path)

    assert str(refused.value).startswith(f"{path}: model 'grok-imagine-video' cannot be used: ")
    assert "credits is the fixed price; a usage price has per_* tables" in str(refused.value)
