"""Prices: a model's price rule applied to a request's validated params, with no catalog in sight."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest

from imagine_gateway.core.pricing import PriceRule, price_credits


def test_a_fixed_price_ignores_the_params() -> None:
    assert PriceRule(base_credits=10).credits_for({"duration": 15, "resolution": "720p"}) == 10


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"duration": 6}, 4 + 12),
        ({"duration": 6.2}, 4 + 13),  # a started credit is a whole credit
        ({"duration": 0}, 4),
        ({"duration": None}, 4),
        ({}, 4),
    ],
)
def test_a_per_second_price_adds_whole_credits_for_duration(params: dict[str, Any], expected: int) -> None:
    assert PriceRule(base_credits=4, credits_per_second=2).credits_for(params) == expected


def test_price_credits_reads_the_rule_of_anything_that_carries_one() -> None:
    @dataclass(frozen=True)
    class Model:
        price_rule: PriceRule

    assert price_credits(Model(PriceRule(base_credits=1, credits_per_second=3)), {"duration": 2}) == 7
