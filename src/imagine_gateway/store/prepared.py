"""Statements the store runs thousands of times a second, compiled once and run on the driver.

A create runs five statements (its idempotency key, the task, the key's spend, the balance, the
ledger row) and the worker two or three more per task. SQLAlchemy's execution of a statement it
has already compiled (the parameters built anew, the events, the result's metadata) costs several
times what SQLite takes to run it. A statement built once at import and marked ``prepared()`` is
compiled the first time a quick write runs it with a given set of parameter names: its final SQL,
the order of its parameters, their converters and the values it fixes itself (a literal, an IN
list, a column's constant default) are kept in a ``Plan``, and later runs go straight to the
``sqlite3`` cursor of the quick write's transaction (``run``), or to the asyncpg connection of a
group of creates on PostgreSQL (``pg_writes``), which also runs the plan of any other statement,
made for its call (``Plans.one_off``).

An IN list the caller gives (``bindparam(..., expanding=True)``) has a plan for each of its
lengths up to ``MAX_LIST``, each item a placeholder of its own. What a plan cannot cover (parameter
sets of different names, a longer list, a column default that is a function) runs through
SQLAlchemy as before, so a plan never changes what a statement does, only what it costs. Errors
are SQLAlchemy's own (``DBAPIError.instance``), as callers expect.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from sqlalchemy.engine import Dialect
from sqlalchemy.exc import DBAPIError

S = TypeVar("S")

# id -> statement; the statement is held here, so its id is never reused by another object.
_PREPARED: dict[int, Any] = {}
_GIVEN = object()  # a slot filled from the caller's parameters
MAX_LIST = 128  # the longest IN list a kept plan is made for (one plan per length)


@dataclass(frozen=True, slots=True)
class _Item:
    """A slot filled from one item of an IN list the caller gives."""

    index: int


def prepared(statement: S) -> S:
    """Mark ``statement`` (built once, at import or in a cache that keeps it) for the direct path."""
    _PREPARED[id(statement)] = statement
    return statement


@dataclass(frozen=True, slots=True)
class Plan:
    """One statement's SQL for one set of parameter names, and how to fill its placeholders."""

    sql: str
    # (name, fixed value or _GIVEN or an _Item of the list ``name``, converter)
    slots: tuple[tuple[str, Any, Callable[[Any], Any] | None], ...]
    columns: tuple[tuple[str, Callable[[Any], Any] | None], ...]  # what a row holds, and its converter
    keys: tuple[str, ...]  # the columns' names, for mappings
    converts: bool  # whether any column of a row needs its converter

    def values(self, given: Mapping[str, Any]) -> list[Any]:
        out = []
        for name, fixed, convert in self.slots:
            if fixed is _GIVEN:
                value = given[name]
            elif type(fixed) is _Item:
                value = given[name][fixed.index]
            else:
                out.append(fixed)
                continue
            out.append(value if convert is None else convert(value))
        return out


class Plans:
    """The plans of one dialect, made on first use; ``None`` for a statement run by SQLAlchemy."""

    def __init__(self, dialect: Dialect) -> None:
        self.dialect = dialect
        self._plans: dict[tuple[Any, ...], Plan | None] = {}
        self._lists: dict[int, tuple[str, ...]] = {}  # the names of a statement's IN lists

    def get(self, statement: Any, parameters: Any) -> Plan | None:
        """The plan for one parameter set, or for a list of sets that all name the same keys."""
        if id(statement) not in _PREPARED:
            return None
        if type(parameters) is list and parameters and isinstance(parameters[0], Mapping):
            first = tuple(parameters[0])
            if any(tuple(p) != first for p in parameters):
                return None
            if any(name in first for name in self._list_names(statement)):
                return None  # each set's lists may have lengths of their own
            plan = self.get(statement, parameters[0])
            return None if plan is None or plan.columns else plan  # executemany returns no rows
        if type(parameters) is not dict:
            return None
        key: tuple[Any, ...] = (id(statement), tuple(parameters))
        lists = self._list_names(statement)
        if lists:  # most statements have none: nothing more to do on their path
            lengths = tuple(len(parameters[name]) for name in lists if name in parameters)
            if lengths and max(lengths) > MAX_LIST:
                return None
            key += lengths
        try:
            return self._plans[key]
        except KeyError:
            plan = self._plans[key] = self._make(statement, parameters)
            return plan

    def _list_names(self, statement: Any) -> tuple[str, ...]:
        """The names of ``statement``'s IN lists (a caller's, or its own literal ones)."""
        try:
            return self._lists[id(statement)]
        except KeyError:
            binds = statement.compile(dialect=self.dialect).binds
            names = self._lists[id(statement)] = tuple(sorted(n for n, b in binds.items() if b.expanding))
            return names

    def one_off(self, statement: Any, parameters: Any) -> Plan | None:
        """A plan made for this call alone (not kept): any statement, an IN list of the caller's too."""
        if type(parameters) is list and parameters and isinstance(parameters[0], Mapping):
            plan = self._make(statement, parameters[0])
            return None if plan is None or plan.columns else plan
        if not isinstance(parameters, Mapping):
            return None
        return self._make(statement, parameters)

    def _make(self, statement: Any, given: Mapping[str, Any]) -> Plan | None:
        dialect = self.dialect
        # The column keys SQLAlchemy compiles an execution with: the parameter names, sorted.
        compiled = statement.compile(dialect=dialect, column_keys=sorted(given))
        defaults = {}
        for column in [*compiled.insert_prefetch, *compiled.update_prefetch]:
            if column.default is None or not column.default.is_scalar:
                return None  # a default computed per row: SQLAlchemy's execution computes it
            defaults[column.key] = column.default.arg
        # An IN list of the caller's: the SQL has a placeholder per item, named ``<name>_<n>``.
        items: dict[str, tuple[str, _Item]] = {}
        for name, value in given.items():
            if name in compiled.binds and compiled.binds[name].expanding:
                if type(value) is not list:
                    return None  # a tuple or another sequence: SQLAlchemy's execution takes it
                items |= {f"{name}_{n}": (name, _Item(n - 1)) for n in range(1, len(value) + 1)}
        state = compiled.construct_expanded_state({**defaults, **given})
        if state.positiontup is None:
            return None  # a named paramstyle; the quick writes' sqlite3 is positional
        slots = []
        for name in state.positiontup:
            # The expanded state has the converters of the names it expanded; the others are the
            # bind's type's, as SQLAlchemy's execution applies them.
            bind = compiled.binds.get(name)
            convert = state.processors.get(name) or (
                bind.type.dialect_impl(dialect).bind_processor(dialect) if bind is not None else None
            )
            if name in given:
                slots.append((name, _GIVEN, convert))
            elif name in items:
                slots.append((*items[name], convert))
            else:
                value = state.parameters[name]
                slots.append((name, value if convert is None else convert(value), None))
        columns = tuple(
            (column.key, column.type.dialect_impl(dialect).result_processor(dialect, None))
            for column in statement.exported_columns
        )
        keys = tuple(key for key, _ in columns)
        return Plan(state.statement, tuple(slots), columns, keys, any(c is not None for _, c in columns))


class DirectResult:
    """The slice of SQLAlchemy's buffered result the store reads: rowcount, scalars, rows, mappings."""

    def __init__(self, rowcount: int, rows: list[tuple[Any, ...]], keys: Sequence[str]) -> None:
        self.rowcount = rowcount
        self._rows = rows
        self._keys = keys

    def scalar_one_or_none(self) -> Any:
        if len(self._rows) > 1:
            raise ValueError("more than one row")  # SQLAlchemy raises MultipleResultsFound here
        return self._rows[0][0] if self._rows else None

    def scalar(self) -> Any:
        return self._rows[0][0] if self._rows else None

    def first(self) -> tuple[Any, ...] | None:
        return self._rows[0] if self._rows else None

    def all(self) -> list[tuple[Any, ...]]:
        return list(self._rows)

    def __iter__(self) -> Iterator[tuple[Any, ...]]:
        return iter(self._rows)

    def one(self) -> tuple[Any, ...]:
        if len(self._rows) != 1:
            raise ValueError(f"expected one row, got {len(self._rows)}")
        return self._rows[0]

    def scalars(self) -> Rows:
        return Rows(row[0] for row in self._rows)

    def mappings(self) -> Rows:
        return Rows(dict(zip(self._keys, row, strict=True)) for row in self._rows)


class Rows(list[Any]):
    """Rows (or their first values, or mappings) as SQLAlchemy's buffered results give them."""

    def first(self) -> Any:
        return self[0] if self else None

    def all(self) -> list[Any]:
        return list(self)


def run(
    raw: sqlite3.Connection, plan: Plan, given: Mapping[str, Any] | Sequence[Mapping[str, Any]]
) -> DirectResult:
    """Run ``plan`` with ``given`` (one parameter set, or a list for executemany) on ``raw``,
    inside the caller's transaction."""
    one = not isinstance(given, list)
    values: Any = plan.values(given) if one else [plan.values(g) for g in given]  # type: ignore[arg-type]
    try:
        cursor = raw.execute(plan.sql, values) if one else raw.executemany(plan.sql, values)
        rows = cursor.fetchall() if plan.columns else []
        rowcount = cursor.rowcount
    except sqlite3.Error as exc:
        raise DBAPIError.instance(plan.sql, values, exc, sqlite3.Error) from exc
    if plan.converts:
        converters = [convert for _, convert in plan.columns]
        rows = [tuple(v if c is None else c(v) for v, c in zip(row, converters, strict=True)) for row in rows]
    return DirectResult(rowcount, rows, plan.keys)
