"""Plain records read from the store; what the API and worker pass around instead of rows."""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any, Self

from sqlalchemy import RowMapping

from imagine_gateway.core.states import CreditsState, TaskState


class _FromRow:
    @classmethod
    def from_row(cls, row: RowMapping) -> Self:
        names = {f.name for f in fields(cls)}  # type: ignore[arg-type]
        return cls(**{k: v for k, v in row.items() if k in names})


@dataclass(frozen=True)
class Account(_FromRow):
    id: str
    name: str
    balance: int
    reserved: int
    created_at: int


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
    result: dict[str, Any] | None
    error_code: str | None
    error_message: str | None
    provider: str | None
    upstream_id: str | None
    upstream_result: dict[str, Any] | None
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

    @property
    def task_state(self) -> TaskState:
        return TaskState(self.state)

    @property
    def credits(self) -> CreditsState:
        return CreditsState(self.credits_state)
