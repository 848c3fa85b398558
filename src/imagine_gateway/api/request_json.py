"""Decoding request JSON once, with limits, into values every later layer can trust.

Every JSON body of every route and dialect is decoded here (``api.deps.read_json``). What comes out
holds only what the rest of the gateway can store and echo back:

- nesting at most ``MAX_DEPTH`` deep (objects and arrays);
- integers inside the interoperable range of RFC 7493 (I-JSON), ±(2**53 - 1), and finite floats;
  ``NaN`` and ``Infinity``, which are not JSON, are refused;
- strings (values and keys) that are valid Unicode text without U+0000: a lone surrogate
  (``"\\ud800"``) cannot be encoded as UTF-8, and PostgreSQL cannot store NUL in text.

Anything else is ``validation_failed`` naming the field (``params.duration``, ``prompt``; ``body``
when the whole body is at fault), before any route code runs.
"""

from __future__ import annotations

import json
import re
from typing import Any

from imagine_gateway.core.errors import FieldError, UnsupportedMediaType, ValidationFailed

MAX_DEPTH = 32
MAX_SAFE_INTEGER = 2**53 - 1
"""The largest integer every JSON implementation reads exactly (RFC 7493 section 2.2)."""

_MAX_INT_DIGITS = len(str(MAX_SAFE_INTEGER))
_BAD_TEXT = re.compile("[\x00\ud800-\udfff]")


class _OutOfRange:
    """A number literal refused while decoding, kept in place so the walk can name its field."""

    __slots__ = ("text",)

    def __init__(self, text: str) -> None:
        self.text = text


def _parse_int(text: str) -> int | _OutOfRange:
    digits = len(text) - (text[0] == "-")
    if digits > _MAX_INT_DIGITS:
        return _OutOfRange(text)  # never handed to int(): a 5,000-digit literal costs nothing here
    value = int(text)
    return value if -MAX_SAFE_INTEGER <= value <= MAX_SAFE_INTEGER else _OutOfRange(text)


def _parse_float(text: str) -> float | _OutOfRange:
    value = float(text)
    return value if value not in (float("inf"), float("-inf")) else _OutOfRange(text)


def _parse_constant(text: str) -> _OutOfRange:
    return _OutOfRange(text)


_DECODER = json.JSONDecoder(parse_int=_parse_int, parse_float=_parse_float, parse_constant=_parse_constant)


def json_body(content_type: str | None, raw: bytes) -> Any:
    """A request's body, decoded by ``decode_json`` once its ``Content-Type`` says JSON."""
    media_type = (content_type or "").split(";")[0].strip().lower()
    if media_type != "application/json" and not media_type.endswith("+json"):
        raise UnsupportedMediaType(
            "The body must be JSON sent with 'Content-Type: application/json' "
            f"(got {media_type or 'none'!r})."
        )
    return decode_json(raw)


def decode_json(raw: bytes) -> Any:
    """The JSON value of ``raw``, within the limits above, or ``ValidationFailed``."""
    try:
        # As json.loads reads bytes (UTF-8, -16 or -32, with or without a BOM); encoded surrogates
        # pass here so that the walk below names their field.
        text = raw.decode(json.detect_encoding(raw), "surrogatepass")
    except UnicodeDecodeError as exc:
        not_json = [FieldError("body", "is not valid JSON")]
        raise ValidationFailed("The body is not valid JSON.", not_json) from exc
    try:
        value = _DECODER.decode(text)
    except json.JSONDecodeError as exc:
        where = f" at line {exc.lineno} column {exc.colno}"
        raise ValidationFailed(
            f"The body is not valid JSON{where}.", [FieldError("body", f"is not valid JSON{where}")]
        ) from exc
    except RecursionError as exc:  # the decoder recurses per level: far too deep for us anyway
        raise _too_deep("body") from exc
    check_value(value)
    return value


def check_value(value: Any, field: str = "body") -> None:
    """Walk a decoded value (no recursion) and refuse the first thing the limits above exclude."""
    # (value, its field, the top-level field it sits in, depth): a too-deep value is reported by
    # the top-level field, not by a path as long as the nesting.
    stack: list[tuple[Any, str, str, int]] = [(value, field, field, 0)]
    while stack:
        item, where, top, depth = stack.pop()
        if isinstance(item, str):
            check_text(item, where)
        elif isinstance(item, _OutOfRange):
            raise _out_of_range(item.text, where)
        elif isinstance(item, dict | list):
            if depth >= MAX_DEPTH:
                raise _too_deep(top)
            if isinstance(item, dict):
                for key, child in item.items():
                    check_text(key, where)
                    name = key if where == field else f"{where}.{key}"
                    stack.append((child, name, name if depth == 0 else top, depth + 1))
            else:
                for index, child in enumerate(item):
                    name = f"{where}[{index}]"
                    stack.append((child, name, name if depth == 0 else top, depth + 1))


def check_text(value: str, field: str) -> None:
    """Refuse text that cannot be stored or echoed: a lone surrogate or U+0000."""
    found = _BAD_TEXT.search(value)
    if found is None:
        return
    if found.group() == "\x00":
        raise _invalid(field, "must not contain the NUL character (U+0000)")
    raise _invalid(field, "must be valid Unicode text: it contains a lone surrogate (U+D800..U+DFFF)")


def _out_of_range(text: str, field: str) -> ValidationFailed:
    if text in ("NaN", "Infinity", "-Infinity"):
        return _invalid(field, f"{text} is not a JSON number")
    shown = text if len(text) <= 24 else f"{text[:12]}...({len(text)} characters)"
    return _invalid(
        field,
        f"the number {shown} is outside the range this API reads exactly",
        {"min": -MAX_SAFE_INTEGER, "max": MAX_SAFE_INTEGER},
    )


def _too_deep(field: str) -> ValidationFailed:
    return _invalid(field, f"is nested more than {MAX_DEPTH} levels deep", {"max_depth": MAX_DEPTH})


def _invalid(field: str, issue: str, allowed: Any = None) -> ValidationFailed:
    return ValidationFailed(f"{field}: {issue}", [FieldError(field, issue, allowed)])
