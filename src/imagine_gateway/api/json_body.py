"""JSON rendered straight to bytes.

A route that returns a dict has FastAPI validate it against the return annotation and walk it with
``jsonable_encoder`` before Starlette encodes it: for a task's view that costs more than the
encoding itself. The native views are plain JSON values already (str, int, None, lists, dicts), so
the task routes (and the edge's hot routes) answer with ``json_bytes`` and declare
``response_model`` only for the OpenAPI document.

``orjson`` encodes them: a page of twenty tasks in a tenth of the standard library's time, with the
same bytes (compact, UTF-8, keys in order), except that a float under 10⁻⁴ is written out in its own
way (``0.00008`` or ``2e-6`` for the standard library's ``8e-05`` and ``2e-06``), the same number.
What it does not take (an integer past 64 bits, a key that is not a string) goes to the standard
library's encoder, configured as Starlette's JSONResponse.
"""

from __future__ import annotations

import json
from typing import Any

import orjson

_encode = json.JSONEncoder(ensure_ascii=False, allow_nan=False, separators=(",", ":")).encode


def json_bytes(value: Any) -> bytes:
    """``value`` as compact UTF-8 JSON (the same bytes Starlette's JSONResponse makes)."""
    try:
        return orjson.dumps(value)
    except TypeError:
        return _encode(value).encode()
