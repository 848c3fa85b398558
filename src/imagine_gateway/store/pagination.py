"""Keyset pagination on (created_at, id): stable under concurrent inserts, no OFFSET scans."""

from __future__ import annotations

from typing import Any

from sqlalchemy import BindParameter, Select, Table, and_, or_


def keyset_page(
    query: Select[Any],
    table: Table,
    *,
    before: tuple[Any, Any] | None = None,
    after: tuple[Any, Any] | None = None,
    newest_first: bool = True,
    limit: int | BindParameter[int],
) -> Select[Any]:
    """``query`` limited to rows strictly before/after a (created_at, id) position, in order
    (the position and the limit as values, or as ``bindparam``s of a statement compiled once)."""
    created_at, row_id = table.c.created_at, table.c.id
    if before is not None:
        created, rid = before
        query = query.where(or_(created_at < created, and_(created_at == created, row_id < rid)))
    if after is not None:
        created, rid = after
        query = query.where(or_(created_at > created, and_(created_at == created, row_id > rid)))
    order = (created_at.desc(), row_id.desc()) if newest_first else (created_at.asc(), row_id.asc())
    return query.order_by(*order).limit(limit)
