"""Opaque list cursors: a position (created_at, id) in a newest-first keyset page."""

from __future__ import annotations

import base64
import re

from imagine_gateway.core.errors import ValidationFailed, invalid

_CREATED = re.compile(r"[0-9]{1,19}")
_MAX_CREATED = 2**63 - 1
_ITEM_ID = re.compile(r"[A-Za-z0-9_-]{1,128}")


def encode_cursor(created_at: int, item_id: str) -> str:
    """The cursor that continues a list after the item at (created_at, item_id)."""
    return base64.urlsafe_b64encode(f"{created_at}:{item_id}".encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[int, str]:
    """The position a cursor of ours names; ``validation_failed`` for anything else."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        created, item_id = raw.split(":", 1)
    except (ValueError, UnicodeDecodeError) as exc:
        raise _not_ours() from exc
    # Checked before use: the position goes into a query, where a number beyond 64 bits or an id
    # with a NUL cannot even be compared.
    if not _CREATED.fullmatch(created) or int(created) > _MAX_CREATED or not _ITEM_ID.fullmatch(item_id):
        raise _not_ours()
    return int(created), item_id


def _not_ours() -> ValidationFailed:
    return invalid("cursor", "not a cursor this API returned")
