"""A model's ``price`` table as the catalog file writes it, checked and turned into a core rule.

    [models.price]                       # fixed: billing = "fixed", credits = 4
    billing = "usage"
    minimum_credits = 1
    per_input_image = 2                  # credits per input image
    per_input_video_second = 2           # credits per second of input video
    assume = { resolution = "480p" }     # how an absent (or "auto") param is priced
    [models.price.per_second]            # credits per second of output, by resolution
    by = ["resolution"]
    credits = { "480p" = 16, "720p" = 28, "1080p" = 50 }

``per_image`` is the same shape (``by = ["quality", "resolution"]`` nests one object per param).
Credits may be fractional (``0.4``): every line is computed exactly and only the total is rounded
up, once.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from imagine_gateway.core.pricing import PriceRule, Table, exact

Credits = int | float | str


class TableSpec(BaseModel):
    """Credits per unit, nested by the values of ``by``; a plain number when ``by`` is empty."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    by: tuple[str, ...] = ()
    credits: Credits | dict[str, Any]

    def table(self) -> Table:
        flat: dict[tuple[str, ...], Any] = {}
        _flatten(self.credits, self.by, (), flat)
        return Table(self.by, {key: _credits(value) for key, value in flat.items()})


class PriceSpec(BaseModel):
    """The ``price`` of a catalog entry."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    billing: Literal["fixed", "usage"]
    credits: int | None = Field(default=None, ge=0)
    per_task: Credits = 0
    per_second: TableSpec | None = None
    per_image: TableSpec | None = None
    per_input_image: Credits = 0
    per_input_video_second: Credits = 0
    minimum_credits: int = Field(default=0, ge=0)
    rounding: Literal["ceil"] = "ceil"
    assume: dict[str, str] = Field(default_factory=dict)
    mode_assume: dict[str, dict[str, str]] = Field(default_factory=dict)

    @field_validator("per_task", "per_input_image", "per_input_video_second")
    @classmethod
    def _not_negative(cls, value: Credits) -> Credits:
        _credits(value)
        return value

    def rule(self) -> PriceRule:
        """The core rule; raises ``ValueError`` for a fixed price without credits and the like."""
        if self.billing == "fixed":
            if self.credits is None:
                raise ValueError("a fixed price needs credits")
            return PriceRule.fixed(self.credits)
        if self.credits is not None:
            raise ValueError("credits is the fixed price; a usage price has per_* tables")
        if self.per_second is None and self.per_image is None and not exact(self.per_task):
            raise ValueError("a usage price needs per_second, per_image or per_task")
        return PriceRule.usage(
            per_task=_credits(self.per_task),
            per_second=self.per_second.table() if self.per_second else None,
            per_image=self.per_image.table() if self.per_image else None,
            per_input_image=_credits(self.per_input_image),
            per_input_video_second=_credits(self.per_input_video_second),
            minimum_credits=self.minimum_credits,
            assume=dict(self.assume),
            mode_assume={mode: dict(values) for mode, values in self.mode_assume.items()},
        )


def legacy_rule(billing_type: str, base_credits: int, credits_per_second: int | None) -> PriceRule:
    """The rule of an entry without a ``price`` table (the older ``billing_type`` fields)."""
    if billing_type == "PER_IMAGE":
        return PriceRule.usage(per_image=Table.flat(base_credits))
    if billing_type == "PER_SECOND" and credits_per_second is not None:
        return PriceRule.usage(per_task=exact(base_credits), per_second=Table.flat(credits_per_second))
    return PriceRule.fixed(base_credits)


def _flatten(node: Any, by: tuple[str, ...], key: tuple[str, ...], out: dict[tuple[str, ...], Any]) -> None:
    if len(key) == len(by):
        if isinstance(node, Mapping):
            raise ValueError(f"credits nest deeper than by = {list(by)}")
        out[key] = node
        return
    if not isinstance(node, Mapping) or not node:
        raise ValueError(f"credits must be an object by {by[len(key)]!r} values")
    for value, child in node.items():
        _flatten(child, by, (*key, str(value)), out)


def _credits(value: Any) -> Any:
    number = exact(value)
    if number < 0:
        raise ValueError("credits cannot be negative")
    return number
