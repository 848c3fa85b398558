"""Who is calling: the account and key behind a request."""

from __future__ import annotations

from dataclasses import dataclass

ALL_SCOPES = (
    "models:read",
    "generations:create",
    "generations:read",
    "files:create",
    "files:read",
    "credits:read",
    "webhooks:manage",
    "chat:create",
    "chat:read",
)


@dataclass(frozen=True)
class Principal:
    account_id: str
    api_key_id: str
    scopes: frozenset[str]
    rate_limit: str | None = None
