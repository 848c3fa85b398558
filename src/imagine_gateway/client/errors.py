"""The SDK's exceptions: one base, one class per family of error codes.

    ImagineError
    ├── APIConnectionError              the request did not get an answer (DNS, refused, reset)
    │   └── APITimeoutError             ... because a timeout ran out
    ├── APIStatusError                  the gateway answered with an error envelope; has code,
    │   │                               message, request_id, status_code, details, response
    │   ├── ValidationError             400 validation_failed, webhook_url_rejected
    │   ├── AuthenticationError         401 api_key_missing / invalid / revoked / expired
    │   ├── InsufficientCreditsError    402 insufficient_credits
    │   ├── PermissionDeniedError       403 api_scope_denied, signature_invalid
    │   ├── NotFoundError               404 not_found
    │   ├── ConflictError               409 idempotency_conflict, task_state_conflict
    │   ├── PayloadTooLargeError        413 payload_too_large
    │   ├── RateLimitError              429 rate_limited (retry_after_s)
    │   └── InternalServerError         5xx internal_error, upstream_unavailable, public_api_disabled
    ├── GenerationFailedError           ``generations.run`` or ``wait`` saw the task fail or be
    │                                   canceled (has ``generation``, ``code``, ``message``)
    ├── WaitTimeoutError                ``generations.wait`` ran past its timeout (has ``generation``)
    └── GenerationNotReadyError         ``generations.download`` of a task without a result

Other 4xx codes (405, 415, 416) raise ``APIStatusError`` itself. Automatic retries happen before
any of these is raised.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import httpx

if TYPE_CHECKING:
    from imagine_gateway.client.models import Generation


class ImagineError(Exception):
    """Base of every exception the SDK raises."""


class APIConnectionError(ImagineError):
    """No answer: the connection failed or broke off."""

    def __init__(self, message: str = "Connection error.", *, request: httpx.Request | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.request = request


class APITimeoutError(APIConnectionError):
    """A connect, read, write or pool timeout ran out."""

    def __init__(self, message: str = "Request timed out.", *, request: httpx.Request | None = None) -> None:
        super().__init__(message, request=request)


class APIStatusError(ImagineError):
    """The gateway answered with an error: ``code``, ``message`` and ``request_id`` from its envelope."""

    def __init__(
        self,
        message: str,
        *,
        code: str,
        status_code: int,
        request_id: str | None,
        details: list[dict[str, Any]] | None = None,
        response: httpx.Response | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.code = code
        self.status_code = status_code
        self.request_id = request_id
        self.details = details or []
        self.response = response

    def __str__(self) -> str:
        return f"{self.code}: {self.message}"


class ValidationError(APIStatusError):
    """400: the request body, a parameter, a file or a webhook URL is not acceptable."""


class AuthenticationError(APIStatusError):
    """401: the API key is missing, unknown, revoked or expired."""


class InsufficientCreditsError(APIStatusError):
    """402: the account cannot pay for the generation; nothing was created."""


class PermissionDeniedError(APIStatusError):
    """403: the key lacks a scope, or a media URL signature is invalid."""


class NotFoundError(APIStatusError):
    """404: no such object in this account."""


class ConflictError(APIStatusError):
    """409: an Idempotency-Key reused with another body, or a task in the wrong state."""


class PayloadTooLargeError(APIStatusError):
    """413: a body or file over its limit."""


class RateLimitError(APIStatusError):
    """429: too many requests; ``retry_after_s`` says when to try again."""

    @property
    def retry_after_s(self) -> float | None:
        if self.response is None:
            return None
        from imagine_gateway.client._retry import retry_after_s

        return retry_after_s(self.response.headers)


class InternalServerError(APIStatusError):
    """5xx: the gateway or every upstream failed."""


class GenerationFailedError(ImagineError):
    """The task ended failed or canceled; ``generation`` is the ended task.

    ``code`` and ``message`` are the task's error (``code`` is ``"canceled"`` for a task canceled
    without one). Its credits were released by the gateway.
    """

    def __init__(self, generation: Generation) -> None:
        error = generation.error
        self.generation = generation
        self.code = error.code if error is not None else generation.status
        self.message = (
            error.message if error is not None else f"Generation {generation.id} was {generation.status}."
        )
        super().__init__(self.message)

    def __str__(self) -> str:
        return f"{self.code}: {self.message}"


class WaitTimeoutError(ImagineError):
    """``wait`` gave up; the task goes on. ``generation`` is the last state seen."""

    def __init__(self, message: str, *, generation: Generation) -> None:
        super().__init__(message)
        self.generation = generation


class GenerationNotReadyError(ImagineError):
    """``download`` of a task that has not succeeded (or whose result has expired)."""

    def __init__(self, message: str, *, generation: Generation) -> None:
        super().__init__(message)
        self.generation = generation


_BY_STATUS: dict[int, type[APIStatusError]] = {
    400: ValidationError,
    401: AuthenticationError,
    402: InsufficientCreditsError,
    403: PermissionDeniedError,
    404: NotFoundError,
    409: ConflictError,
    413: PayloadTooLargeError,
    429: RateLimitError,
}


def error_class(status_code: int) -> type[APIStatusError]:
    """The exception class for an HTTP error status."""
    if status_code >= 500:
        return InternalServerError
    return _BY_STATUS.get(status_code, APIStatusError)
