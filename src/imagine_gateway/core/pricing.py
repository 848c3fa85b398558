"""What a generation costs: a model's price rule applied to a request's validated params.

The rule is a plain value: the catalog builds one for each model from its entry, so pricing depends
on nothing outside ``core``.

    rule = PriceRule(base_credits=10, credits_per_second=2)
    rule.credits_for({"duration": 6})  # 22
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol


@dataclass(frozen=True)
class PriceRule:
    """``base_credits`` per task, plus ``ceil(duration * credits_per_second)`` when that is set."""

    base_credits: int
    credits_per_second: int | None = None
    """Credits per second of ``params["duration"]``; ``None`` for a fixed price."""
    per_image: bool = False
    """``base_credits`` per image: ``params["n"]`` images are made (and billed) in one call."""

    def credits_for(self, params: Mapping[str, Any]) -> int:
        """Credits to reserve for a request with normalised ``params``."""
        if self.per_image:
            return self.base_credits * int(params.get("n", 1) or 1)
        if self.credits_per_second is None:
            return self.base_credits
        seconds = float(params.get("duration", 0) or 0)
        return self.base_credits + math.ceil(seconds * self.credits_per_second)


class Priced(Protocol):
    """Anything that carries a price rule (a catalog model does)."""

    @property
    def price_rule(self) -> PriceRule: ...


def price_credits(model: Priced, params: Mapping[str, Any]) -> int:
    """Credits to reserve for a request to ``model`` with normalised ``params``."""
    return model.price_rule.credits_for(params)
