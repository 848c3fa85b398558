"""Spend caps of an API key: what counts, in which period, and when a charge is over a cap.

A key's spend is the credits its tasks took from the balance: a reservation counts in full when the
task is created, and whatever a task later gets back (a refund, or the part of a reservation a
settlement to the actual cost releases) gives the cap back. A capture moves no credits and changes
nothing. So ``spent`` always equals the credits the key's tasks took from the account, net.

Three counters: ``total`` (the key's life), ``daily`` (the UTC day) and ``monthly`` (the UTC calendar
month). A task counts in the period it was created in; a refund of a task created yesterday gives
back to the total and not to today's counter. The store keeps the counters on the key's row and
moves them with one conditional update in the create transaction, so concurrent creates can never
pass a cap together.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from imagine_gateway.core.errors import FieldError, ValidationFailed

_DAY_MS = 86_400_000
MAX_CAP = 10**15  # far beyond any real budget, well inside a 64-bit counter


def day_of(ms: int) -> int:
    """The UTC day of an epoch-millisecond time, as days since 1970-01-01."""
    return ms // _DAY_MS


def month_of(ms: int) -> int:
    """The UTC calendar month of an epoch-millisecond time, as ``year * 12 + month - 1``."""
    when = datetime.fromtimestamp(ms / 1000, tz=UTC)
    return when.year * 12 + when.month - 1


@dataclass(frozen=True)
class KeyLimits:
    """Spend caps in credits; ``None`` is no cap."""

    total: int | None = None
    daily: int | None = None
    monthly: int | None = None

    def as_dict(self) -> dict[str, int | None]:
        return {"total": self.total, "daily": self.daily, "monthly": self.monthly}


@dataclass(frozen=True)
class KeySpend:
    """A key's counters as stored: the daily and monthly ones belong to the period they name."""

    total: int = 0
    daily: int = 0
    day: int = 0
    monthly: int = 0
    month: int = 0

    def current(self, now_ms: int) -> dict[str, int]:
        """The spend of the current periods (a counter of a period that has passed reads 0)."""
        return {
            "total": self.total,
            "daily": self.daily if self.day == day_of(now_ms) else 0,
            "monthly": self.monthly if self.month == month_of(now_ms) else 0,
        }


def parse_limits(raw: object, *, field: str = "limits", base: KeyLimits | None = None) -> KeyLimits:
    """Limits from a request body: an object of ``total``, ``daily``, ``monthly`` (each a whole
    number of credits >= 0, or null for none). Keys left out keep ``base``'s value; ``null`` for the
    whole object is no caps at all."""
    base = base or KeyLimits()
    if raw is None:
        return KeyLimits()
    if not isinstance(raw, dict):
        raise ValidationFailed(
            f"{field}: must be an object",
            [FieldError(field, "must be an object", ["total", "daily", "monthly"])],
        )
    values = base.as_dict()
    errors: list[FieldError] = []
    for name, value in raw.items():
        where = f"{field}.{str(name)[:40]}"
        if name not in values:
            errors.append(FieldError(where, "unknown field", ["total", "daily", "monthly"]))
        elif value is not None and (
            isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= MAX_CAP
        ):
            errors.append(
                FieldError(where, "must be a whole number of credits or null", {"min": 0, "max": MAX_CAP})
            )
        else:
            values[name] = value
    if errors:
        raise ValidationFailed(f"{errors[0].field}: {errors[0].issue}", errors)
    return KeyLimits(**values)
