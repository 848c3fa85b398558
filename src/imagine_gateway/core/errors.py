"""The gateway's one exception hierarchy.

Every error a client can see is a ``GatewayError`` carrying its stable public ``code`` and HTTP
``status``; the HTTP layer renders it in each dialect's envelope. Errors from libraries (SQLAlchemy,
httpx, redis, Pillow, PyAV) are converted at the boundary with ``raise ... from exc``.

    GatewayError
    ├── ValidationFailed          400 validation_failed      bad body, model, prompt, params or file
    ├── WebhookUrlRejected        400 webhook_url_rejected
    ├── AuthError                 401
    │   ├── ApiKeyMissing             api_key_missing
    │   ├── ApiKeyInvalid             api_key_invalid
    │   ├── ApiKeyRevoked             api_key_revoked
    │   └── ApiKeyExpired             api_key_expired
    ├── InsufficientCredits       402 insufficient_credits
    ├── KeyBudgetExceeded         402 key_budget_exceeded    the key's total, daily or monthly cap
    ├── ScopeDenied               403 api_scope_denied
    ├── ModelNotAllowed           403 model_not_allowed      the model is not in the key's allowlist
    ├── AccountDisabled           403 account_disabled       an operator disabled the key's account
    ├── SignatureInvalid          403 signature_invalid      tampered or expired media URL
    ├── NotFound                  404 not_found
    ├── MethodNotAllowed          405 method_not_allowed
    ├── IdempotencyConflict       409 idempotency_conflict
    ├── TaskStateConflict         409 task_state_conflict    e.g. cancel of a finished task
    ├── PayloadTooLarge           413 payload_too_large
    ├── UnsupportedMediaType      415 unsupported_media_type
    ├── RangeNotSatisfiable       416 range_not_satisfiable
    ├── RateLimited               429 rate_limited           carries ``retry_after_s``
    ├── InternalError             500 internal_error
    ├── UpstreamUnavailable       503 upstream_unavailable   no provider could take the task
    ├── PublicApiDisabled         503 public_api_disabled
    └── StorageUnavailable        503 storage_unavailable    media storage refuses writes (read-only, I/O)
        └── StorageFull           507 storage_unavailable    media storage is out of space
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar


@dataclass(frozen=True)
class FieldError:
    """One bad field: where it is, what was wrong, and what is allowed."""

    field: str
    issue: str
    allowed: Any = None

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"field": self.field, "issue": self.issue}
        if self.allowed is not None:
            out["allowed"] = self.allowed
        return out


@dataclass
class GatewayError(Exception):
    """Base of every error with a public code."""

    message: str
    details: list[FieldError] = field(default_factory=list)

    code: ClassVar[str] = "internal_error"
    status: ClassVar[int] = 500

    def __post_init__(self) -> None:
        super().__init__(self.message)

    def __str__(self) -> str:
        return f"{self.code}: {self.message}"


class ValidationFailed(GatewayError):
    code = "validation_failed"
    status = 400


class WebhookUrlRejected(GatewayError):
    code = "webhook_url_rejected"
    status = 400


class AuthError(GatewayError):
    status = 401


class ApiKeyMissing(AuthError):
    code = "api_key_missing"


class ApiKeyInvalid(AuthError):
    code = "api_key_invalid"


class ApiKeyRevoked(AuthError):
    code = "api_key_revoked"


class ApiKeyExpired(AuthError):
    code = "api_key_expired"


class InsufficientCredits(GatewayError):
    code = "insufficient_credits"
    status = 402


class KeyBudgetExceeded(GatewayError):
    code = "key_budget_exceeded"
    status = 402


class ScopeDenied(GatewayError):
    code = "api_scope_denied"
    status = 403


class ModelNotAllowed(GatewayError):
    code = "model_not_allowed"
    status = 403


class AccountDisabled(GatewayError):
    code = "account_disabled"
    status = 403


class SignatureInvalid(GatewayError):
    code = "signature_invalid"
    status = 403


class NotFound(GatewayError):
    code = "not_found"
    status = 404


class MethodNotAllowed(GatewayError):
    code = "method_not_allowed"
    status = 405


class IdempotencyConflict(GatewayError):
    code = "idempotency_conflict"
    status = 409


class TaskStateConflict(GatewayError):
    code = "task_state_conflict"
    status = 409


class PayloadTooLarge(GatewayError):
    code = "payload_too_large"
    status = 413


class UnsupportedMediaType(GatewayError):
    code = "unsupported_media_type"
    status = 415


class RangeNotSatisfiable(GatewayError):
    code = "range_not_satisfiable"
    status = 416


@dataclass
class RateLimited(GatewayError):
    retry_after_s: int = 1

    code: ClassVar[str] = "rate_limited"
    status: ClassVar[int] = 429


class InternalError(GatewayError):
    code = "internal_error"
    status = 500


class UpstreamUnavailable(GatewayError):
    code = "upstream_unavailable"
    status = 503


class PublicApiDisabled(GatewayError):
    code = "public_api_disabled"
    status = 503


class StorageUnavailable(GatewayError):
    code = "storage_unavailable"
    status = 503


class StorageFull(StorageUnavailable):
    status = 507


def invalid(
    field_name: str, issue: str, allowed: Any = None, *, message: str | None = None
) -> ValidationFailed:
    """Build a ``ValidationFailed`` for a single bad field."""
    return ValidationFailed(message or f"{field_name}: {issue}", [FieldError(field_name, issue, allowed)])
