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
    if model.billing_type == "PER_IMAGE":
        # ``base_credits`` per image; ``n`` images are made (and billed) in one call.
        return model.base_credits * int(params.get("n", 1) or 1)
    return model.base_credits
