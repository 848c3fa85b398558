"""The JSON columns' values, read back with ``orjson`` (a task's params and results, on every read).

The values were written by the standard library's encoder, so the standard library reads whatever
``orjson`` refuses (an escaped lone surrogate an upstream once sent, a number past 64 bits).
"""

from __future__ import annotations

import json
from typing import Any

import orjson


def loads(text: str | bytes) -> Any:
    """The value of one stored JSON text."""
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError:
        return json.loads(text)
