"""Who is calling: the account and key behind a request, and the scopes a key can hold."""

from __future__ import annotations

from dataclasses import dataclass

# What a new key gets unless told otherwise: Rivya's documented scopes, and managing the account's
# own keys.
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
    "keys:manage",
)
# The operator's scope: the admin API. Never a default, and never given by a customer's key.
ADMIN_SCOPE = "admin"
KNOWN_SCOPES = (*ALL_SCOPES, ADMIN_SCOPE)


@dataclass(frozen=True)
class Principal:
    account_id: str
    api_key_id: str
    scopes: frozenset[str]
    rate_limit: str | None = None
    # The models the key may use; None: every model.
    models: frozenset[str] | None = None

    @property
    def is_admin(self) -> bool:
        return ADMIN_SCOPE in self.scopes
