"""JSON responses rendered straight to bytes.

A route that returns a dict has FastAPI validate it against the return annotation and walk it with
``jsonable_encoder`` before Starlette encodes it: for a task's view that costs more than the
encoding itself. The native views are plain JSON values already (str, int, None, lists, dicts), so
the hot routes answer with ``json_response`` and declare ``response_model`` only for the document.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from starlette.responses import Response

_encode = json.JSONEncoder(ensure_ascii=False, allow_nan=False, separators=(",", ":")).encode


def json_bytes(value: Any) -> bytes:
    """``value`` as compact UTF-8 JSON (the same bytes Starlette's JSONResponse makes)."""
    return _encode(value).encode()


def json_response(
    value: Any, *, status_code: int = 200, headers: Mapping[str, str] | None = None
) -> Response:
    """A JSON response of ``value``, which must hold only JSON's own types."""
    return Response(
        json_bytes(value), status_code=status_code, headers=headers, media_type="application/json"
    )
