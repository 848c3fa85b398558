"""Keyset pages for every list the API answers: tasks, webhook endpoints, events and deliveries.

A list reads one row more than it shows; that row only says whether another page follows. Cursors
are opaque to clients and name the position (created_at, id) of the last item shown, which the
store's ``keyset_page`` continues from:

    position = read_cursor(cursor)                       # None for the first page
    rows = await store.list_things(conn, before=position, limit=limit + 1)
    return page_of(rows, limit)                          # Page(items=rows[:limit], next_cursor=...)
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Generic, Protocol, TypeVar

from imagine_gateway.core.cursor import decode_cursor, encode_cursor


class Positioned(Protocol):
    """A record with a place in a keyset order."""

    @property
    def id(self) -> str: ...

    @property
    def created_at(self) -> int: ...


T = TypeVar("T", bound=Positioned)


@dataclass(frozen=True)
class Page(Generic[T]):
    """One page of a list; ``next_cursor`` continues it, ``None`` on the last page."""

    items: list[T]
    next_cursor: str | None = None

    @property
    def has_more(self) -> bool:
        return self.next_cursor is not None


def read_cursor(cursor: str | None) -> tuple[int, str] | None:
    """The position a client's cursor names (``validation_failed`` for a cursor we did not issue)."""
    return decode_cursor(cursor) if cursor else None


def cursor_after(item: Positioned) -> str:
    """The cursor that continues a list after ``item``."""
    return encode_cursor(item.created_at, item.id)


def page_of(rows: Sequence[T], limit: int) -> Page[T]:
    """The page of ``rows`` read with ``limit + 1``: the extra row only means that more follow."""
    items = list(rows[:limit])
    more = len(rows) > limit and bool(items)
    return Page(items=items, next_cursor=cursor_after(items[-1]) if more else None)


def whole(items: Sequence[T]) -> Page[T]:
    """A list that always fits on one page."""
    return Page(items=list(items))


__all__ = ["Page", "Positioned", "cursor_after", "page_of", "read_cursor", "whole"]
