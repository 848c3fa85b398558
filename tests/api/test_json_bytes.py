"""What the hot routes answer is the JSON Starlette's JSONResponse renders, byte for byte, also for
values the fast encoder does not take; what the store reads back is what was written."""

from __future__ import annotations

from typing import Any

import pytest
from starlette.responses import JSONResponse

from imagine_gateway.api.json_body import json_bytes
from imagine_gateway.store.json_values import loads

VIEW = {
    "id": "task_Vqn98jkI-vx8HsCcHpb5",
    "object": "generation",
    "status": "succeeded",
    "prompt": "a fox in «fresh» snow ✓, line\u2028separator, tab\t and \"quotes\"",
    "params": {"duration": 6, "aspect_ratio": "16:9", "seed": None, "loop": False, "ratio": 0.5625},
    "result": {"assets": [{"url": "https://media.example/a.mp4", "duration_s": 6.041666}]},
    "credits": {"reserved": 0, "charged": 10},
    "error": None,
}


@pytest.mark.parametrize(
    "value",
    [
        VIEW,
        {"page": [VIEW] * 3, "has_more": True, "next_cursor": None},
        {"big": 2**70, "negative": -(2**65)},  # past 64 bits: the standard library encodes them
        {1: "a key that is not a string", "b": [1, 2]},
        [],
        "plain",
    ],
)
def test_json_bytes_are_what_starlette_renders(value: Any) -> None:
    assert json_bytes(value) == JSONResponse(value).body


def test_stored_json_reads_back_whatever_the_fast_decoder_refuses() -> None:
    assert loads('{"duration": 6, "tags": ["a"]}') == {"duration": 6, "tags": ["a"]}
    assert loads(b'{"raw": "caf\\u00e9"}') == {"raw": "café"}
    # An upstream's body once held an escaped lone surrogate; the standard library reads it.
    assert loads('{"raw": "\\ud800"}') == {"raw": "\ud800"}
    assert loads(str(2**70)) == 2**70
