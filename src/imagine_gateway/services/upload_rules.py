"""What an upload may be: the size and type limits per kind (narrowed by a model), and a safe name.

Shared by the Files API (uploads) and the reference resolver (files named by URL in a request).
"""

from __future__ import annotations

import re
from typing import cast

from imagine_gateway.catalog.contract import ModelContract
from imagine_gateway.core.errors import FieldError, PayloadTooLarge, invalid
from imagine_gateway.media.sniff import ALLOWED_MIME, MediaKind, kind_of

MIB = 1024 * 1024
KINDS: tuple[MediaKind, ...] = ("image", "video", "audio")
DEFAULT_MAX_BYTES: dict[str, int] = {"image": 10 * MIB, "video": 50 * MIB, "audio": 10 * MIB}
"""Upload limits when no model is named (the same as Rivya's defaults)."""

NAME_MAX = 255
KIND_NAMES = {"image": "an image", "video": "a video", "audio": "an audio file"}
_UNSAFE_NAME = re.compile(r"[\x00-\x1f\x7f/\\]")


def size_limit(kind: str, model: ModelContract | None) -> int:
    """The largest file of ``kind`` accepted (for ``model`` when given: its catalog limit)."""
    if model is not None and model.reference_media is not None:
        limit = model.reference_media.max_bytes.get(kind)
        if limit is not None:
            return limit
    return DEFAULT_MAX_BYTES[kind]


def allowed_mime_types(kind: str, model: ModelContract | None) -> list[str]:
    """The detected types accepted for ``kind`` (narrowed by ``model``'s catalog entry when given)."""
    base = ALLOWED_MIME[cast(MediaKind, kind)]
    if model is not None and model.reference_media is not None:
        listed = model.reference_media.mime_types.get(kind)
        if listed is not None:
            return sorted(base & set(listed))
    return sorted(base)


def human_bytes(size: int) -> str:
    """``10485760`` -> ``"10 MB"`` (binary megabytes, as the limits are defined)."""
    if size % MIB == 0:
        return f"{size // MIB} MB"
    return f"{size / MIB:.1f} MB"


def too_large(limit: int, kind: str, model: ModelContract | None) -> PayloadTooLarge:
    """413 naming the limit that was crossed."""
    scope = f"{kind} files for {model.id}" if model is not None else f"{kind} files"
    issue = f"is larger than {human_bytes(limit)} ({limit} bytes), the limit for {scope}"
    return PayloadTooLarge(f"file: {issue}", [FieldError("file", issue, f"at most {limit} bytes")])


def clean_name(filename: str | None, fallback: str) -> str:
    """The client's file name without any path, control characters or excess length."""
    if not filename:
        return fallback
    base = filename.replace("\\", "/").rsplit("/", 1)[-1]
    base = _UNSAFE_NAME.sub("_", base).strip()
    return base[:NAME_MAX] or fallback


def check_type(mime: str | None, kind: str, model: ModelContract | None) -> str:
    """``mime`` if it is of ``kind`` and accepted (for ``model``); else a ``ValidationFailed`` on ``file``."""
    allowed = allowed_mime_types(kind, model)
    if mime is None:
        raise invalid("file", "file type is not recognised", allowed)
    if kind_of(mime) != kind:
        raise invalid("file", f"detected {mime}, which is not {KIND_NAMES[kind]}", allowed)
    if mime not in allowed:
        scope = f" by {model.id}" if model is not None else ""
        raise invalid("file", f"detected {mime}, which is not accepted{scope}", allowed)
    return mime
