"""What a generation costs, from the catalog."""

from __future__ import annotations

import math
from typing import Any

from imagine_gateway.catalog.contract import ModelContract


def price_credits(model: ModelContract, params: dict[str, Any]) -> int:
    """Credits to reserve for a request with normalised ``params``."""
    if model.billing_type == "PER_SECOND" and model.credits_per_second is not None:
        seconds = float(params.get("duration", 0) or 0)
        return model.base_credits + math.ceil(seconds * model.credits_per_second)
    return model.base_credits
