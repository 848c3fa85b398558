"""The domain's records: what the services, the worker and the API pass around instead of rows.

Plain frozen dataclasses; ``from_row`` takes any mapping of column names (the store hands it rows).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import MISSING, dataclass, fields, replace
from typing import Any, Self, TypeVar

from imagine_gateway.core.budgets import KeyLimits, KeySpend
from imagine_gateway.core.results import StoredResult, UpstreamResult
from imagine_gateway.core.states import CreditsState, TaskState

R = TypeVar("R")


class _FromRow:
    @classmethod
    def from_row(cls, row: Mapping[Any, Any]) -> Self:
        shape = _shape(cls)
        return _build(cls, {k: v for k, v in row.items() if k in shape[0]}, shape)

    @classmethod
    def make(cls, **values: Any) -> Self:
        """``cls(**values)``: the same record, without the frozen ``__init__``'s cost (``_build``);
        a create makes a task of 36 fields, and its ``__init__`` took 7 µs."""
        shape = _shape(cls)
        if not shape[0].issuperset(values):
            return cls(**values)  # which refuses the name that is not a field
        return _build(cls, values, shape)

    def evolve(self, **changes: Any) -> Self:
        """``dataclasses.replace(self, **changes)``, without ``__init__`` (8 µs for a task, and the
        worker makes one at every step). A name that is not a field goes to ``replace``, which
        refuses it."""
        names, _, plain = _shape(type(self))
        if not plain or not names.issuperset(changes):
            return replace(self, **changes)  # type: ignore[type-var]
        record = object.__new__(type(self))
        record.__dict__.update(self.__dict__)
        record.__dict__.update(changes)
        return record


_SHAPES: dict[type[Any], tuple[frozenset[str], dict[str, Any], bool]] = {}


def _shape(cls: type[Any]) -> tuple[frozenset[str], dict[str, Any], bool]:
    """A record's field names, the values of those that have a plain default, and whether its
    instances may be filled without ``__init__`` (no ``__post_init__``, fields in ``__dict__``)."""
    shape = _SHAPES.get(cls)
    if shape is None:
        found = fields(cls)
        defaults = {f.name: f.default for f in found if f.default is not MISSING}
        plain = not hasattr(cls, "__post_init__") and not hasattr(cls, "__slots__")
        shape = _SHAPES[cls] = (frozenset(f.name for f in found), defaults, plain)
    return shape


def _build(cls: type[R], values: dict[str, Any], shape: tuple[frozenset[str], dict[str, Any], bool]) -> R:
    """``cls(**values)``, without the frozen ``__init__``'s ``object.__setattr__`` per field.

    A list page builds twenty tasks of 36 fields; that ``__init__`` took 7 of every 10 µs a task
    cost. A frozen dataclass without slots keeps its fields in ``__dict__``, so filling it is the
    same object. A value missing with no default is left to ``__init__``, which names it in its
    TypeError, as is a record with a ``__post_init__``.
    """
    names, defaults, plain = shape
    if not plain:
        return cls(**values)
    if len(values) < len(names):
        missing = names.difference(values)
        if not missing.issubset(defaults):
            return cls(**values)
        values = {**{name: defaults[name] for name in missing}, **values}
    record = object.__new__(cls)
    record.__dict__.update(values)
    return record


@dataclass(frozen=True)
class Account(_FromRow):
    id: str
    name: str
    balance: int
    reserved: int
    created_at: int
    disabled_at: int | None = None  # an operator disabled it: its keys are refused


@dataclass(frozen=True)
class ApiKey(_FromRow):
    id: str
    account_id: str
    name: str
    prefix: str
    scopes: list[str]
    created_at: int
    rate_limit: str | None = None
    expires_at: int | None = None
    revoked_at: int | None = None
    last_used_at: int | None = None
    # Spend caps in credits (None: no cap) and the models the key may use (None: every model).
    limit_total: int | None = None
    limit_daily: int | None = None
    limit_monthly: int | None = None
    models: list[str] | None = None
    # What the key's tasks took from the balance, net (see core.budgets).
    spent_total: int = 0
    spent_daily: int = 0
    spent_day: int = 0
    spent_monthly: int = 0
    spent_month: int = 0

    @property
    def limits(self) -> KeyLimits:
        return KeyLimits(self.limit_total, self.limit_daily, self.limit_monthly)

    @property
    def spend(self) -> KeySpend:
        return KeySpend(
            self.spent_total, self.spent_daily, self.spent_day, self.spent_monthly, self.spent_month
        )


@dataclass(frozen=True)
class LedgerEntry(_FromRow):
    id: int
    account_id: str
    task_id: str | None
    kind: str
    amount: int
    reserved_delta: int
    balance_after: int
    note: str | None
    created_at: int
    reference: str | None = None  # an external reference of a top-up (a payment id)
    # Of the row's task, when it has one (read with the row, not stored twice).
    model: str | None = None
    api_key_id: str | None = None


@dataclass(frozen=True)
class Task(_FromRow):
    id: str
    account_id: str
    api_key_id: str | None
    model: str
    prompt: str
    params: dict[str, Any]
    client_request_id: str | None
    dialect: str
    webhook_url: str | None
    state: str
    progress: int
    reserved_credits: int
    final_credits: int
    credits_state: str
    result: StoredResult | None
    error_code: str | None
    error_message: str | None
    provider: str | None
    upstream_id: str | None
    upstream_result: UpstreamResult | None
    upstream_cost_ticks: int | None
    submit_ambiguous: int
    next_run_at: int | None
    attempts: int
    polls: int
    lease_owner: str | None
    lease_expires_at: int | None
    fence: int
    deadline_at: int
    created_at: int
    updated_at: int
    started_at: int | None
    completed_at: int | None
    expires_at: int | None
    # The non-secret label of the upstream credential that served the task (never the key).
    upstream_credential: str | None = None
    # Why the charge differs from a plain capture or refund (settled to less, a policy's charge).
    billing_reason: str | None = None

    @classmethod
    def from_row(cls, row: Mapping[Any, Any]) -> Self:
        """The task of a row; its JSON result columns become records."""
        shape = _shape(cls)
        values = {k: v for k, v in row.items() if k in shape[0]}
        _results_as_records(values)
        return _build(cls, values, shape)

    @classmethod
    def from_columns(cls, values: dict[str, Any]) -> Self:
        """The task of a whole row of ``tasks`` read on its own (every column, JSON decoded): the
        list's path, twenty tasks a page. Its values become the record's without filtering
        (``tasks`` has exactly ``Task``'s fields, which a test holds)."""
        _results_as_records(values)
        record = object.__new__(cls)
        record.__dict__.update(values)
        return record

    def to_row(self) -> dict[str, Any]:
        """The row of this task: every column, with the results as the JSON stored."""
        values = {name: getattr(self, name) for name in _shape(Task)[0]}
        values["result"] = self.result.to_json() if self.result is not None else None
        upstream = self.upstream_result
        values["upstream_result"] = upstream.to_json() if upstream is not None else None
        return values

    @property
    def task_state(self) -> TaskState:
        return TaskState(self.state)

    @property
    def credits(self) -> CreditsState:
        return CreditsState(self.credits_state)


def _results_as_records(values: dict[str, Any]) -> None:
    """A task row's JSON result columns, as records (in place)."""
    if (result := values.get("result")) is not None and not isinstance(result, StoredResult):
        values["result"] = StoredResult.from_json(result)
    upstream = values.get("upstream_result")
    if upstream is not None and not isinstance(upstream, UpstreamResult):
        values["upstream_result"] = UpstreamResult.from_json(upstream)


@dataclass(frozen=True)
class FileRecord(_FromRow):
    """One stored file; ``storage_key`` names its blob, ``mime_type`` was detected from its bytes."""

    id: str
    account_id: str
    api_key_id: str | None
    kind: str
    name: str
    mime_type: str
    size_bytes: int
    sha256: str
    width: int | None
    height: int | None
    duration_s: float | None
    storage_key: str
    origin: str
    source_url: str | None
    model: str | None
    client_request_id: str | None
    created_at: int
    expires_at: int


@dataclass(frozen=True)
class WebhookEndpoint(_FromRow):
    id: str
    account_id: str
    name: str
    url: str
    event_types: list[str]
    status: str
    secret: str
    failure_count: int
    created_at: int
    updated_at: int
    last_success_at: int | None = None
    last_failure_at: int | None = None
    disabled_at: int | None = None
    revoked_at: int | None = None


@dataclass(frozen=True)
class WebhookEvent(_FromRow):
    id: str
    account_id: str
    task_id: str | None
    type: str
    payload: dict[str, Any]
    created_at: int


@dataclass(frozen=True)
class WebhookDelivery(_FromRow):
    id: str
    event_id: str
    account_id: str
    endpoint_id: str | None
    target: str
    event_type: str
    task_id: str | None
    url: str
    status: str
    attempts: int
    created_at: int
    updated_at: int
    next_attempt_at: int | None = None
    lease_expires_at: int | None = None
    last_status_code: int | None = None
    last_error: str | None = None
    delivered_at: int | None = None


# Endpoints
