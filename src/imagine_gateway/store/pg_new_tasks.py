"""A group's new tasks on PostgreSQL in one statement: their idempotency keys' claims and rows.

Each create of a group (``group_commit``) claimed its key and inserted its task in a statement of
its own, one round trip after another, and a group of k creates cost k + 3 round trips (with its
BEGIN, its postings and its COMMIT). On a busy event loop each round trip lasts a turn of the loop,
and for that long the group holds its account's row locked. Here the creates of a group run side
by side: each hands its row (and its key's record) to the connection's ``NewTasks`` and waits; on
the next turn of the loop all of them go in one statement, whatever the group's size.

The statement claims the keys as one create's claim does (a live record is left alone, an expired
one taken over), then inserts the tasks whose key it took and those that came without a key; it
answers the ids it inserted, so each create learns whether its key was free. Two creates of one
group with the same key make PostgreSQL refuse the statement (a row may not be claimed twice in
one command): the group fails, and each create runs again alone, as any failure of a group does.
Keys are claimed in their order, so two groups never wait on each other's keys in a cycle.

Rows travel as one JSON text (``json_populate_recordset``), written by ``orjson``; a JSON column's
value inside it is written by the standard library's encoder, as that column's own converter
writes it, and PostgreSQL keeps a ``json`` value's text as given: the stored row is the one
SQLAlchemy's path stores, byte for byte (a JSON column's ``None`` is JSON ``null``, as there).
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from typing import Any

import orjson
from sqlalchemy import JSON

from imagine_gateway.store.tables import idempotency_keys, tasks


def _statement() -> str:
    def listed(names: list[str]) -> str:
        return ", ".join(f'"{name}"' for name in names)

    columns = [c.name for c in tasks.c]
    picked = ", ".join(
        f"COALESCE(g.\"{c.name}\", 'null'::json)"
        if isinstance(c.type, JSON) and c.nullable
        else f'g."{c.name}"'
        for c in tasks.c
    )
    records = listed([c.name for c in idempotency_keys.c])
    taken = ", ".join(
        f'"{n}" = EXCLUDED."{n}"' for n in ("fingerprint", "task_id", "created_at", "expires_at")
    )
    return (
        "WITH given AS (SELECT * FROM json_populate_recordset(NULL::tasks, $1::json)), "
        "records AS (SELECT * FROM json_populate_recordset(NULL::idempotency_keys, $2::json)), "
        f"claimed AS (INSERT INTO idempotency_keys ({records}) "
        f'SELECT {records} FROM records ORDER BY "account_id", "key" '
        f'ON CONFLICT ("account_id", "key") DO UPDATE SET {taken} '
        "WHERE idempotency_keys.expires_at <= EXCLUDED.created_at RETURNING task_id) "
        f"INSERT INTO tasks ({listed(columns)}) SELECT {picked} FROM given g "
        "WHERE g.id IN (SELECT task_id FROM claimed) OR g.id NOT IN (SELECT task_id FROM records) "
        "RETURNING id"
    )


SQL = _statement()
_JSON_COLUMNS = tuple(c.name for c in tasks.c if isinstance(c.type, JSON))
# Runs the statement on the group's connection: (SQL, its values) -> the rows it answered.
Fetch = Callable[[str, list[Any]], Awaitable[list[tuple[Any, ...]]]]


class NewTasks:
    """The new tasks of one group's transaction, inserted together on the next turn of the loop."""

    def __init__(self, fetch: Fetch) -> None:
        self._fetch = fetch
        self._rows: list[dict[str, Any]] = []
        self._records: list[dict[str, Any]] = []
        self._waiting: list[tuple[str, asyncio.Future[bool]]] = []

    async def insert(self, row: dict[str, Any], record: dict[str, Any] | None) -> bool:
        """Insert the task's ``row`` once its key's ``record`` (None: no key) is claimed; False when
        another request holds that key (nothing inserted). Raises what the statement raised."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[bool] = loop.create_future()
        if not self._waiting:
            loop.call_soon(self._start)
        self._rows.append(row)
        if record is not None:
            self._records.append(record)
        self._waiting.append((row["id"], future))
        return await future

    def _start(self) -> None:
        rows, records, waiting = self._rows, self._records, self._waiting
        self._rows, self._records, self._waiting = [], [], []
        # Held by the loop until it is done, and every waiting create learns its outcome from it.
        task = asyncio.get_running_loop().create_task(self._run(rows, records, waiting))
        _RUNNING.add(task)
        task.add_done_callback(_RUNNING.discard)

    async def _run(
        self,
        rows: list[dict[str, Any]],
        records: list[dict[str, Any]],
        waiting: list[tuple[str, asyncio.Future[bool]]],
    ) -> None:
        try:
            answered = await self._fetch(SQL, [_encoded(rows), orjson.dumps(records).decode()])
        except Exception as exc:
            for _, future in waiting:
                if not future.done():
                    future.set_exception(exc)
            return
        except BaseException:  # cancelled with the loop: nobody may wait for ever
            for _, future in waiting:
                future.cancel()
            raise
        inserted = {row[0] for row in answered}
        for task_id, future in waiting:
            if not future.done():
                future.set_result(task_id in inserted)


def _encoded(rows: list[dict[str, Any]]) -> str:
    for row in rows:  # each a row of its own (``Task.to_row``)
        for name in _JSON_COLUMNS:
            value = row[name]
            row[name] = None if value is None else orjson.Fragment(json.dumps(value))
    return orjson.dumps(rows).decode()


_RUNNING: set[asyncio.Task[None]] = set()
