"""Field checks shared by the shapes; each raises a 400 ``MockError`` naming the field."""

from __future__ import annotations

from collections.abc import Collection, Mapping
from typing import Any

from imagine_gateway.testing.mock_upstreams.plumbing import MockError


def text(body: Mapping[str, Any], key: str, *, required: bool, max_chars: int | None = None) -> str:
    """A string field ('' when absent and optional)."""
    value = body.get(key)
    if value is None:
        if required:
            raise MockError(400, f"{key} is required.")
        return ""
    if not isinstance(value, str):
        raise MockError(400, f"{key} must be a string.")
    if required and not value.strip():
        raise MockError(400, f"{key} must not be empty.")
    if max_chars is not None and len(value) > max_chars:
        raise MockError(400, f"{key} is longer than {max_chars} characters.")
    return value


def choice(body: Mapping[str, Any], key: str, allowed: Collection[str], default: str) -> str:
    value = body.get(key)
    if value is None:
        return default
    if not isinstance(value, str) or value not in allowed:
        raise MockError(400, f"{key} must be one of {', '.join(allowed)}; got {value!r}.")
    return value


def integer(
    body: Mapping[str, Any], key: str, low: int, high: int, default: int, *, strings: bool = False
) -> int:
    """An integer within ``low..high``; ``strings`` also accepts its decimal string ("8")."""
    value = body.get(key)
    if value is None:
        return default
    if strings and isinstance(value, str) and value.strip().isdigit():
        value = int(value)
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int):
        raise MockError(400, f"{key} must be an integer; got {value!r}.")
    if not low <= value <= high:
        raise MockError(400, f"{key} must be between {low} and {high}; got {value}.")
    return value


def boolean(body: Mapping[str, Any], key: str, default: bool) -> bool:
    value = body.get(key)
    if value is None:
        return default
    if not isinstance(value, bool):
        raise MockError(400, f"{key} must be a boolean; got {value!r}.")
    return value


def media_ref(value: Any, key: str) -> str:
    """The URL of an xAI ``ImageUrl``/``VideoUrl`` object (``{url}``, ``{image_url}`` or ``{file_id}``)."""
    if isinstance(value, Mapping):
        for url_key in ("url", "image_url"):
            url = value.get(url_key)
            if isinstance(url, str) and url:
                return url
        file_id = value.get("file_id")
        if isinstance(file_id, str) and file_id:
            return f"file:{file_id}"
    raise MockError(400, f"{key} must be an object with a non-empty url or file_id.")


def media_refs(body: Mapping[str, Any], key: str, *, max_items: int) -> list[str]:
    value = body.get(key)
    if value is None:
        return []
    if not isinstance(value, list) or not value:
        raise MockError(400, f"{key} must be a non-empty array.")
    if len(value) > max_items:
        raise MockError(400, f"{key} accepts at most {max_items} items; got {len(value)}.")
    return [media_ref(item, f"{key}[{index}]") for index, item in enumerate(value)]
