"""Loading the catalog: the shipped models every time, an operator's file layered on top as it is now."""

from __future__ import annotations

from pathlib import Path

from imagine_gateway.catalog.loader import load_catalog


def house_model(display_name: str) -> str:
    return f"""
[[models]]
id = "house-image"
display_name = "{display_name}"
category = "image"
output = "image"
base_credits = 2
max_prompt_length = 100
upstream_model = "grok-imagine-image"
"""


def test_an_operators_file_is_read_again_on_every_load_and_the_shipped_models_stay_whole(
    tmp_path: Path,
) -> None:
    extra = tmp_path / "models.toml"
    extra.write_text(house_model("House image"), encoding="utf-8")
    first = load_catalog(extra)
    extra.write_text(house_model("House image, renamed"), encoding="utf-8")

    second = load_catalog(extra)
    plain = load_catalog()

    names = [getattr(catalog.get("house-image"), "display_name", None) for catalog in (first, second)]
    assert names == ["House image", "House image, renamed"]
    assert plain.get("house-image") is None
    assert first.ids == second.ids == [*plain.ids, "house-image"]
