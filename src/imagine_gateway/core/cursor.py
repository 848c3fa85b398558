"""Opaque list cursors: a position (created_at, id) in a newest-first keyset page."""

from __future__ import annotations

import base64

from imagine_gateway.core.errors import invalid


def encode_cursor(created_at: int, item_id: str) -> str:
    """The cursor that continues a list after the item at (created_at, item_id)."""
    return base64.urlsafe_b64encode(f"{created_at}:{item_id}".encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[int, str]:
    """The position a cursor of ours names; ``validation_failed`` for anything else."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        created, item_id = raw.split(":", 1)
        return int(created), item_id
    except (ValueError, UnicodeDecodeError) as exc:
        raise invalid("cursor", "not a cursor this API returned") from exc
