"""What a generation costs: a model's price rule applied to what a request uses.

A rule is a plain value the catalog builds from a model's entry, so pricing depends on nothing
outside ``core``. It is either ``fixed`` (so many credits a task) or ``usage``: a sum of lines, each
a quantity times credits per unit, over

- seconds of output video (``per_second``), by the values of params such as ``resolution``;
- output images (``per_image``), by params such as ``quality`` and ``resolution``;
- input images (``per_input_image``) and seconds of input video (``per_input_video_second``);
- a flat part per task (``per_task``).

The rounding rule: every line is computed exactly (``Fraction``), the lines are added, and the
total is rounded up to whole credits once; a total below ``minimum_credits`` is raised to it.

    rule = PriceRule.usage(per_second=Table(("resolution",), {("720p",): Fraction(28)}))
    rule.quote(Usage(output_seconds=Fraction(6), selectors={"resolution": "720p"})).credits  # 168
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any, Literal

Billing = Literal["fixed", "usage"]
ROUNDING = "ceil"
# A selector with one of these values (or none) is priced as the rule ``assume``s: "auto" is an
# upstream's own choice, known from its documentation (xAI: low for generation, medium for edits).
CHOSEN_BY_UPSTREAM = frozenset({"auto"})


@dataclass(frozen=True)
class Table:
    """Credits per unit, by the values of the params ``by`` (in that order).

    ``by = ()`` is a single price. A combination the table does not list is priced at the table's
    highest entry: an unlisted value can never cost less than the rule foresaw.
    """

    by: tuple[str, ...]
    credits: Mapping[tuple[str, ...], Fraction]

    @classmethod
    def flat(cls, credits: Fraction | int) -> Table:
        return cls((), {(): Fraction(credits)})

    def unit(self, selectors: Mapping[str, str]) -> Fraction:
        """Credits per unit for these param values."""
        key = tuple(selectors.get(name, "") for name in self.by)
        found = self.credits.get(key)
        return found if found is not None else max(self.credits.values(), default=Fraction(0))

    def as_data(self) -> dict[str, Any]:
        """``{"by": [...], "credits": ...}``: nested objects by value, in the order of ``by``."""
        if not self.by:
            return {"by": [], "credits": plain(self.credits.get((), Fraction(0)))}
        nested: dict[str, Any] = {}
        for key, credits in self.credits.items():
            level = nested
            for value in key[:-1]:
                level = level.setdefault(value, {})
            level[key[-1]] = plain(credits)
        return {"by": list(self.by), "credits": nested}


@dataclass(frozen=True)
class Usage:
    """What a request asks for (priced when it is reserved) or what it delivered (when it settles).

    ``selectors`` are the params tables are keyed by (``resolution``, ``quality``), as strings;
    ``mode`` is the request's mode (``text-to-image``, ``image-edit``...), for the rule's
    ``mode_assume``.
    """

    output_seconds: Fraction = Fraction(0)
    output_images: int = 0
    input_images: int = 0
    input_video_seconds: Fraction = Fraction(0)
    selectors: Mapping[str, str] = field(default_factory=dict)
    mode: str | None = None

    def delivered(self, *, seconds: Fraction | None = None, images: int | None = None) -> Usage:
        """This usage with the outputs that were actually delivered."""
        return Usage(
            output_seconds=self.output_seconds if seconds is None else seconds,
            output_images=self.output_images if images is None else images,
            input_images=self.input_images,
            input_video_seconds=self.input_video_seconds,
            selectors=self.selectors,
            mode=self.mode,
        )


@dataclass(frozen=True)
class Line:
    """One line of a price: ``quantity`` of ``item`` at ``unit_credits`` each, exactly."""

    item: str
    quantity: Fraction
    unit_credits: Fraction
    credits: Fraction

    def as_data(self) -> dict[str, Any]:
        return {
            "item": self.item,
            "quantity": plain(self.quantity),
            "unit_credits": plain(self.unit_credits),
            "credits": plain(self.credits),
        }


INPUT_ITEMS = frozenset({"input_images", "input_video_seconds"})


@dataclass(frozen=True)
class Quote:
    """A price: whole ``credits`` (the lines' exact sum rounded up once, at least the minimum)."""

    credits: int
    lines: tuple[Line, ...]

    @property
    def input_credits(self) -> int:
        """What the inputs alone cost (rounded up, no minimum): the ``charge_input`` policy's charge."""
        return math.ceil(sum((line.credits for line in self.lines if line.item in INPUT_ITEMS), Fraction(0)))


@dataclass(frozen=True)
class PriceRule:
    """A model's price: ``fixed`` credits a task, or a ``usage`` formula (see the module docstring)."""

    billing: Billing
    credits: int = 0
    """The fixed price (``fixed`` only)."""
    per_task: Fraction = Fraction(0)
    per_second: Table | None = None
    per_image: Table | None = None
    per_input_image: Fraction = Fraction(0)
    per_input_video_second: Fraction = Fraction(0)
    minimum_credits: int = 0
    assume: Mapping[str, str] = field(default_factory=dict)
    """The value a selector is priced at when the request leaves it to the upstream (absent or auto)."""
    mode_assume: Mapping[str, Mapping[str, str]] = field(default_factory=dict)
    """Per mode, values that replace ``assume``'s (xAI serves auto quality as medium for edits)."""

    @classmethod
    def fixed(cls, credits: int) -> PriceRule:
        return cls(billing="fixed", credits=credits)

    @classmethod
    def usage(cls, **parts: Any) -> PriceRule:
        return cls(billing="usage", **parts)

    def quote(self, usage: Usage) -> Quote:
        """The price of ``usage``: every line, and the whole credits they round up to."""
        if self.billing == "fixed":
            one = Fraction(1)
            return Quote(self.credits, (Line("task", one, Fraction(self.credits), Fraction(self.credits)),))
        selectors = self._selectors(usage)
        lines: list[Line] = []
        if self.per_task:
            lines.append(Line("task", Fraction(1), self.per_task, self.per_task))
        if self.per_second is not None:
            lines.append(_line("output_seconds", usage.output_seconds, self.per_second.unit(selectors)))
        if self.per_image is not None:
            lines.append(
                _line("output_images", Fraction(usage.output_images), self.per_image.unit(selectors))
            )
        if self.per_input_image and usage.input_images:
            lines.append(_line("input_images", Fraction(usage.input_images), self.per_input_image))
        if self.per_input_video_second and usage.input_video_seconds:
            lines.append(_line("input_video_seconds", usage.input_video_seconds, self.per_input_video_second))
        total = math.ceil(sum((line.credits for line in lines), Fraction(0)))
        return Quote(max(self.minimum_credits, total), tuple(lines))

    def _selectors(self, usage: Usage) -> dict[str, str]:
        assumed = dict(self.assume)
        if usage.mode is not None:
            assumed.update(self.mode_assume.get(usage.mode, {}))
        out = dict(usage.selectors)
        for name, value in assumed.items():
            if out.get(name) in (None, "", *CHOSEN_BY_UPSTREAM):
                out[name] = value
        return out

    def as_data(self) -> dict[str, Any]:
        """The rule as the API shows it (``GET /api/v1/models``'s ``price``)."""
        if self.billing == "fixed":
            return {"billing": "fixed", "credits": self.credits, "rounding": ROUNDING}
        return {
            "billing": "usage",
            "per_task": plain(self.per_task),
            "per_second": None if self.per_second is None else self.per_second.as_data(),
            "per_image": None if self.per_image is None else self.per_image.as_data(),
            "per_input_image": plain(self.per_input_image),
            "per_input_video_second": plain(self.per_input_video_second),
            "assume": dict(self.assume),
            "mode_assume": {mode: dict(values) for mode, values in self.mode_assume.items()},
            "minimum_credits": self.minimum_credits,
            "rounding": ROUNDING,
        }


def _line(item: str, quantity: Fraction, unit: Fraction) -> Line:
    return Line(item, quantity, unit, quantity * unit)


def plain(value: Fraction) -> int | float:
    """A number for JSON: an int when whole, else the nearest float (the exact value is in the rule)."""
    return int(value) if value.denominator == 1 else float(value)


def exact(value: Any) -> Fraction:
    """A catalog number (int, float or a decimal string such as "0.4") as an exact fraction.

    A float goes through its shortest decimal form, so 0.4 is 2/5, not the binary 0.400000000000000022.
    """
    if isinstance(value, bool):
        raise ValueError("a price is a number, not a boolean")
    if isinstance(value, Fraction | int):
        return Fraction(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ValueError("a price must be finite")
        return Fraction(repr(value))
    if isinstance(value, str):
        return Fraction(value.strip())
    raise ValueError(f"a price is a number, not {type(value).__name__}")


def seconds(value: float) -> Fraction:
    """A measured duration as exact seconds, to the millisecond (what a probe can tell)."""
    return Fraction(round(value * 1000), 1000)
