"""How the CLI words the allowed values that the API's validation errors carry."""

from __future__ import annotations

from typing import Any

import pytest

from imagine_gateway.cli.output import allowed_text, detail_lines


@pytest.mark.parametrize(
    ("allowed", "text"),
    [
        (["1:1", "16:9"], "1:1, 16:9"),
        ({"min": 6, "max": 30, "step": 1}, "6..30, step 1"),
        ({"min": 0.5, "max": 2}, "0.5..2"),
        ({"max_length": 5000}, "at most 5000 characters"),
        ({"type": "string", "max_length": 200}, "at most 200 characters"),
        ({"type": "string", "max_length": None}, "any string"),
        ({"kinds": ["image", "video"], "max_files": 2}, "kinds image, video; max files 2"),
        ("at most 1048576 bytes", "at most 1048576 bytes"),
        (["http", "https"], "http, https"),
    ],
)
def test_allowed_values_read_as_a_person_would_write_them(allowed: Any, text: str) -> None:
    assert allowed_text(allowed) == text


def test_a_lone_field_the_message_already_names_adds_only_what_is_allowed() -> None:
    details = [{"field": "model", "issue": "unknown model 'x'", "allowed": ["grok-imagine"]}]
    assert detail_lines("model: unknown model 'x'", details) == ["allowed: grok-imagine"]


def test_a_lone_field_with_nothing_allowed_adds_no_line() -> None:
    assert detail_lines("prompt: must be a string", [{"field": "prompt", "issue": "must be a string"}]) == []


def test_details_the_message_does_not_spell_out_are_listed_in_full() -> None:
    details: list[dict[str, Any]] = [
        {"field": "body", "issue": "Field required"},
        {"field": "params.duration", "issue": "99 is above the maximum 30", "allowed": {"min": 6, "max": 30}},
    ]
    assert detail_lines("body: Field required", details) == [
        "body: Field required",
        "params.duration: 99 is above the maximum 30 (allowed: 6..30)",
    ]
