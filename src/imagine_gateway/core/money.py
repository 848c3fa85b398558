"""Money in US dollars: what a credit is worth, what an upstream's cost in ticks is, and the margin.

xAI reports a task's cost as ``usage.cost_in_usd_ticks``: 1 USD = 10**10 ticks. Amounts are
``Decimal`` throughout (never floats), rendered with a fixed number of places by ``usd_text``.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

TICKS_PER_USD = 10**10
_PLACES = Decimal("0.000001")  # a millionth of a dollar: finer than any price of a task


def usd_of_ticks(ticks: int | None) -> Decimal:
    """An upstream's cost in ticks as dollars (no cost reported: 0)."""
    return Decimal(ticks or 0) / TICKS_PER_USD


def usd_text(amount: Decimal) -> str:
    """A dollar amount as the API shows it: a decimal string with six places (``"0.050000"``)."""
    return str(amount.quantize(_PLACES))


@dataclass(frozen=True)
class Margin:
    """What a task (or a group of them) earned: revenue at the credit's value less upstream cost."""

    revenue_credits: int
    revenue_usd: Decimal
    upstream_cost_usd: Decimal

    @property
    def margin_usd(self) -> Decimal:
        return self.revenue_usd - self.upstream_cost_usd

    @classmethod
    def of(cls, revenue_credits: int, cost_ticks: int | None, *, credit_usd: Decimal) -> Margin:
        """The margin of ``revenue_credits`` charged for an upstream cost of ``cost_ticks``."""
        return cls(revenue_credits, Decimal(revenue_credits) * credit_usd, usd_of_ticks(cost_ticks))
