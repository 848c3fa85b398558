"""The catalog's engine modes as the native API applies them to xAI's ids (pure: no server)."""

from __future__ import annotations

from typing import Any

import pytest

from imagine_gateway.catalog.loader import load_catalog
from imagine_gateway.catalog.validation import validate_generation
from imagine_gateway.core.errors import ValidationFailed

CATALOG = load_catalog()
IMG = "https://gw.example/media/uploads/file_a.png"


def image(role: str | None = None, **extra: Any) -> dict[str, Any]:
    item: dict[str, Any] = {"url": IMG, "kind": "image"}
    if role:
        item["role"] = role
    return {**item, **extra}


def details(body: dict[str, Any]) -> list[dict[str, Any]]:
    with pytest.raises(ValidationFailed) as failed:
        validate_generation(CATALOG, body)
    return [d.as_dict() for d in failed.value.details]


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (
            {
                "model": "grok-imagine-video-1.5",
                "params": {"resolution": "1080p", "referenceMediaItems": [image("reference")]},
            },
            [
                {
                    "field": "params.resolution",
                    "issue": "'1080p' is not served by grok-imagine-video-1.5 for reference-to-video "
                    "(serves 480p, 720p)",
                    "allowed": ["480p", "720p"],
                }
            ],
        ),
        (
            {"model": "grok-imagine-video-1.5", "prompt": ""},
            [{"field": "prompt", "issue": "is required for text-to-video"}],
        ),
        (
            {
                "model": "grok-imagine-video-1.5",
                "params": {"duration": 4, "referenceMediaItems": [image("keyframe")]},
            },
            [
                {
                    "field": "params.referenceMediaItems[0].timestampSeconds",
                    "issue": "a keyframe needs its timestamp",
                }
            ],
        ),
        (
            {
                "model": "grok-imagine-video-1.5-lite",
                "params": {"referenceMediaItems": [image("last_frame")]},
            },
            [
                {
                    "field": "params.referenceMediaItems",
                    "issue": "grok-imagine-video-1.5-lite has no mode that takes last_frame together",
                    "allowed": {"text-to-video": [], "image-to-video": ["first_frame"]},
                }
            ],
        ),
        (
            {
                "model": "grok-imagine-image-2.0",
                "prompt": "x",
                "params": {"referenceMediaItems": [image()] * 6},
            },
            [
                {
                    "field": "params.referenceMediaItems",
                    "issue": "has 6 items; this model accepts at most 5",
                    "allowed": {"max_files": 5, "kinds": ["image"]},
                }
            ],
        ),
    ],
    ids=[
        "1.5 R2V at 1080p",
        "1.5 T2V without a prompt",
        "keyframe, no timestamp",
        "lite last frame",
        "6 sources",
    ],
)
def test_native_requests_to_xais_ids_follow_the_engine_modes(
    body: dict[str, Any], expected: list[Any]
) -> None:
    assert details(body) == expected


def test_aliases_resolve_to_their_model_with_pinned_params_and_prompt_is_optional_with_an_image() -> None:
    quality = validate_generation(
        CATALOG, {"model": "grok-imagine-image-pro", "prompt": "x", "params": {"quality": "medium"}}
    )
    preview = validate_generation(
        CATALOG, {"model": "grok-imagine-video-1.5-preview", "params": {"referenceMediaItems": [image()]}}
    )

    assert (quality.model.id, quality.params) == ("grok-imagine-image-2.0", {"n": 1, "quality": "low"})
    assert (preview.model.id, preview.prompt, preview.params) == (
        "grok-imagine-video-1.5",
        "",
        {"duration": 8, "resolution": "480p", "aspect_ratio": "16:9"},
    )


def test_a_seed_model_keeps_its_contract_unless_files_name_their_roles() -> None:
    seed = details(
        {"model": "grok-imagine-video", "prompt": "x", "params": {"referenceMediaItems": [image(), image()]}}
    )
    engine = validate_generation(
        CATALOG,
        {
            "model": "grok-imagine-video",
            "prompt": "x",
            "params": {"referenceMediaItems": [image("reference")] * 2},
        },
    )

    assert seed == [
        {
            "field": "params.referenceMediaItems",
            "issue": "has 2 items; this model accepts at most 1",
            "allowed": {"max_files": 1, "kinds": ["image"]},
        }
    ]
    assert [r.role for r in engine.references] == ["reference", "reference"]
