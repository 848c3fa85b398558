"""JSON rendered straight to bytes.

A route that returns a dict has FastAPI validate it against the return annotation and walk it with
``jsonable_encoder`` before Starlette encodes it: for a task's view that costs more than the
encoding itself. The native views are plain JSON values already (str, int, None, lists, dicts), so
the task routes (and the edge's hot routes) answer with ``json_bytes`` and declare
``response_model`` only for the OpenAPI document.
"""

from __future__ import annotations

import json
from typing import Any

_encode = json.JSONEncoder(ensure_ascii=False, allow_nan=False, separators=(",", ":")).encode


def json_bytes(value: Any) -> bytes:
    """``value`` as compact UTF-8 JSON (the same bytes Starlette's JSONResponse makes)."""
    return _encode(value).encode()
