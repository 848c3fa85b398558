"""Prices: a rule (fixed, or a usage formula) applied to what a request uses, with no catalog in sight."""

from __future__ import annotations

from fractions import Fraction

import pytest

from imagine_gateway.core.pricing import Line, PriceRule, Table, Usage, exact, seconds

BY_RESOLUTION = Table(("resolution",), {("480p",): Fraction(16), ("720p",): Fraction(28)})
BY_QUALITY_AND_SIZE = Table(
    ("quality", "resolution"),
    {("low", "1k"): Fraction(8), ("low", "2k"): Fraction(12), ("medium", "1k"): Fraction(12)},
)


def test_a_fixed_price_ignores_what_the_request_uses() -> None:
    quote = PriceRule.fixed(10).quote(Usage(output_seconds=Fraction(15), selectors={"resolution": "720p"}))

    assert (quote.credits, quote.lines) == (10, (Line("task", Fraction(1), Fraction(10), Fraction(10)),))
    assert quote.input_credits == 0


@pytest.mark.parametrize(
    ("resolution", "output_s", "expected"),
    [("480p", 6, 96), ("720p", 6, 168), ("720p", 1, 28), ("480p", Fraction(29, 10), 47)],
)
def test_video_is_priced_per_second_by_resolution(resolution: str, output_s: Fraction, expected: int) -> None:
    rule = PriceRule.usage(per_second=BY_RESOLUTION)

    quote = rule.quote(Usage(output_seconds=Fraction(output_s), selectors={"resolution": resolution}))

    assert quote.credits == expected  # 2.9 s x 16 = 46.4, rounded up to 47


@pytest.mark.parametrize(
    ("selectors", "images", "expected"),
    [
        ({"quality": "low", "resolution": "1k"}, 1, 8),
        ({"quality": "low", "resolution": "2k"}, 3, 36),
        ({"quality": "medium", "resolution": "1k"}, 10, 120),
    ],
)
def test_images_are_priced_per_image_by_quality_and_resolution_times_n(
    selectors: dict[str, str], images: int, expected: int
) -> None:
    rule = PriceRule.usage(per_image=BY_QUALITY_AND_SIZE)

    assert rule.quote(Usage(output_images=images, selectors=selectors)).credits == expected


def test_inputs_add_their_own_lines_and_the_lines_are_exact() -> None:
    rule = PriceRule.usage(
        per_second=Table.flat(Fraction(1, 2)),
        per_input_image=Fraction(2, 5),
        per_input_video_second=Fraction(2),
    )

    quote = rule.quote(
        Usage(output_seconds=Fraction(3), input_images=2, input_video_seconds=Fraction(87, 10))
    )

    assert quote.lines == (
        Line("output_seconds", Fraction(3), Fraction(1, 2), Fraction(3, 2)),
        Line("input_images", Fraction(2), Fraction(2, 5), Fraction(4, 5)),
        Line("input_video_seconds", Fraction(87, 10), Fraction(2), Fraction(87, 5)),
    )
    assert (quote.credits, quote.input_credits) == (20, 19)  # 1.5 + 0.8 + 17.4 = 19.7 -> 20


def test_the_total_is_rounded_up_once_not_line_by_line() -> None:
    rule = PriceRule.usage(per_second=Table.flat(Fraction(3, 10)), per_input_image=Fraction(3, 10))

    # 0.3 + 0.3 = 0.6 -> 1 credit (rounding each line would make it 2).
    assert rule.quote(Usage(output_seconds=Fraction(1), input_images=1)).credits == 1


def test_a_total_below_the_minimum_is_raised_to_it() -> None:
    rule = PriceRule.usage(per_second=Table.flat(4), minimum_credits=10)

    assert rule.quote(Usage(output_seconds=Fraction(1))).credits == 10
    assert rule.quote(Usage(output_seconds=Fraction(3))).credits == 12


def test_a_flat_part_per_task_is_added_to_the_usage() -> None:
    rule = PriceRule.usage(per_task=Fraction(4), per_second=Table.flat(2))

    assert rule.quote(Usage(output_seconds=Fraction(6))).credits == 16


def test_a_combination_the_table_does_not_list_is_priced_at_its_highest_entry() -> None:
    rule = PriceRule.usage(per_image=BY_QUALITY_AND_SIZE)

    assert (
        rule.quote(Usage(output_images=1, selectors={"quality": "medium", "resolution": "2k"})).credits == 12
    )


@pytest.mark.parametrize(
    ("selectors", "mode", "expected"),
    [
        ({}, None, 8),  # absent: low, 1k
        ({"quality": "auto"}, "text-to-image", 8),  # auto is low for generation
        ({"quality": "auto"}, "image-edit", 12),  # and medium for edits
        ({"quality": "low"}, "image-edit", 8),  # a value given is priced as given
        ({"resolution": "2k"}, None, 12),
    ],
)
def test_values_left_to_the_upstream_are_priced_as_the_rule_assumes(
    selectors: dict[str, str], mode: str | None, expected: int
) -> None:
    rule = PriceRule.usage(
        per_image=BY_QUALITY_AND_SIZE,
        assume={"quality": "low", "resolution": "1k"},
        mode_assume={"image-edit": {"quality": "medium"}},
    )

    assert rule.quote(Usage(output_images=1, selectors=selectors, mode=mode)).credits == expected


def test_delivered_usage_keeps_the_inputs_and_replaces_the_outputs() -> None:
    asked = Usage(output_seconds=Fraction(6), input_images=1, selectors={"resolution": "720p"}, mode="x")

    assert asked.delivered(seconds=Fraction(2)) == Usage(
        output_seconds=Fraction(2), input_images=1, selectors={"resolution": "720p"}, mode="x"
    )
    assert asked.delivered() == asked


def test_a_rule_shows_itself_as_data() -> None:
    rule = PriceRule.usage(
        per_second=BY_RESOLUTION,
        per_input_image=Fraction(2, 5),
        minimum_credits=1,
        assume={"resolution": "480p"},
    )

    assert PriceRule.fixed(4).as_data() == {"billing": "fixed", "credits": 4, "rounding": "ceil"}
    assert rule.as_data() == {
        "billing": "usage",
        "per_task": 0,
        "per_second": {"by": ["resolution"], "credits": {"480p": 16, "720p": 28}},
        "per_image": None,
        "per_input_image": 0.4,
        "per_input_video_second": 0,
        "assume": {"resolution": "480p"},
        "mode_assume": {},
        "minimum_credits": 1,
        "rounding": "ceil",
    }
    assert BY_QUALITY_AND_SIZE.as_data()["credits"] == {"low": {"1k": 8, "2k": 12}, "medium": {"1k": 12}}


def test_catalog_numbers_and_measured_seconds_are_exact() -> None:
    assert (exact(0.4), exact("2/5"), exact(3), exact("1.25")) == (
        Fraction(2, 5),
        Fraction(2, 5),
        Fraction(3),
        Fraction(5, 4),
    )
    assert seconds(5.9666666) == Fraction(5967, 1000)
    with pytest.raises(ValueError):
        exact(True)
