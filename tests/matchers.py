"""Matchers for whole-body assertions where a value is generated (ids, times, signatures)."""

from __future__ import annotations

import re
from typing import Any


class Matches:
    """Equal to any string matching ``pattern`` (full match)."""

    def __init__(self, pattern: str) -> None:
        self.pattern = re.compile(pattern)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, str) and self.pattern.fullmatch(other) is not None

    def __repr__(self) -> str:
        return f"Matches({self.pattern.pattern!r})"


class AnyInt:
    def __eq__(self, other: object) -> bool:
        return isinstance(other, int) and not isinstance(other, bool)

    def __repr__(self) -> str:
        return "AnyInt()"


ISO = Matches(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z")
TASK_ID = Matches(r"task_[A-Za-z0-9_-]{20}")
REQUEST_ID = Matches(r"req_[0-9a-f]{24}")


def media_url(base_url: str, key_pattern: str) -> Matches:
    return Matches(re.escape(base_url) + r"/media/" + key_pattern + r"\?exp=\d+&sig=[A-Za-z0-9_-]+")


def error_body(code: str, message: str | Any, details: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    error: dict[str, Any] = {"code": code, "message": message, "requestId": REQUEST_ID}
    if details is not None:
        error["details"] = details
    return {"error": error}
