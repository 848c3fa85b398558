"""Each catalog entry carries its price as a core ``PriceRule``."""

from __future__ import annotations

from typing import Any

import pytest

from imagine_gateway.catalog.contract import ModelContract
from imagine_gateway.core.pricing import PriceRule

ENTRY: dict[str, Any] = {
    "id": "test-model",
    "display_name": "Test model",
    "category": "video",
    "output": "video",
    "max_prompt_length": 100,
    "upstream_model": "test",
}


@pytest.mark.parametrize(
    ("pricing", "expected"),
    [
        ({"base_credits": 10}, PriceRule(base_credits=10)),
        ({"base_credits": 10, "billing_type": "FIXED", "credits_per_second": 3}, PriceRule(base_credits=10)),
        ({"base_credits": 2, "billing_type": "PER_SECOND", "credits_per_second": 3}, PriceRule(2, 3)),
        ({"base_credits": 2, "billing_type": "PER_SECOND"}, PriceRule(base_credits=2)),
    ],
)
def test_the_price_rule_follows_the_billing_type(pricing: dict[str, Any], expected: PriceRule) -> None:
    assert ModelContract.model_validate(ENTRY | pricing).price_rule == expected
