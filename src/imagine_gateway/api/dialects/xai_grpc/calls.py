"""What every RPC shares: the key from ``authorization`` metadata, scopes, the per-key rate limit,
and gateway errors as gRPC statuses.

A ``GatewayError`` ends the call with the status the xai-sdk expects for it; the details read
``<our code>: <message>`` and the trailing metadata carry ``error-code`` (and ``error-field`` for a
bad field, ``retry-after`` for a rate limit), so a client can branch on our stable codes.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import grpc

from imagine_gateway.api.context import AppContext
from imagine_gateway.api.dialects.common import error_message
from imagine_gateway.api.dialects.xai_contract import FailedPrecondition
from imagine_gateway.core.errors import (
    ApiKeyInvalid,
    ApiKeyMissing,
    GatewayError,
    IdempotencyConflict,
    PublicApiDisabled,
    RateLimited,
)
from imagine_gateway.services.principal import Principal

log = logging.getLogger("imagine_gateway.grpc")

T = TypeVar("T")
Context = grpc.aio.ServicerContext[Any, Any]
Metadata = tuple[tuple[str, str], ...]

# By HTTP status, the codes the xai-sdk's callers handle.
_STATUS_BY_HTTP = {
    400: grpc.StatusCode.INVALID_ARGUMENT,
    401: grpc.StatusCode.UNAUTHENTICATED,
    402: grpc.StatusCode.RESOURCE_EXHAUSTED,  # the balance is used up
    403: grpc.StatusCode.PERMISSION_DENIED,
    404: grpc.StatusCode.NOT_FOUND,
    409: grpc.StatusCode.FAILED_PRECONDITION,
    413: grpc.StatusCode.INVALID_ARGUMENT,
    415: grpc.StatusCode.INVALID_ARGUMENT,
    429: grpc.StatusCode.RESOURCE_EXHAUSTED,
    503: grpc.StatusCode.UNAVAILABLE,
    504: grpc.StatusCode.DEADLINE_EXCEEDED,
}


def status_for(exc: GatewayError) -> grpc.StatusCode:
    """The gRPC status of a gateway error."""
    if isinstance(exc, FailedPrecondition):
        return grpc.StatusCode.FAILED_PRECONDITION
    if isinstance(exc, IdempotencyConflict):
        return grpc.StatusCode.ALREADY_EXISTS
    return _STATUS_BY_HTTP.get(exc.status, grpc.StatusCode.INTERNAL)


def error_metadata(exc: GatewayError) -> Metadata:
    """Trailing metadata naming the error: our code, the bad field, when to retry."""
    out: list[tuple[str, str]] = [("error-code", exc.code)]
    if exc.details:
        out.append(("error-field", _ascii(exc.details[0].field)))
    if isinstance(exc, RateLimited):
        out.append(("retry-after", str(exc.retry_after_s)))
    return tuple(out)


def metadata_value(context: Context, name: str) -> str | None:
    """The first value of invocation metadata ``name`` (keys arrive lower-cased)."""
    for key, value in context.invocation_metadata() or ():
        if key == name:
            return value if isinstance(value, str) else value.decode("latin-1")
    return None


def bearer_secret(value: str | None) -> str:
    if not value:
        raise ApiKeyMissing("A valid API key is required: send the metadata 'authorization: Bearer <key>'.")
    scheme, _, token = value.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise ApiKeyInvalid("Send the metadata 'authorization: Bearer <api key>'.")
    return token.strip()


async def answer(
    ctx: AppContext, context: Context, scope: str, run: Callable[[Principal], Awaitable[T]]
) -> T:
    """Authenticate the call (key, scope, rate limit), run it, and end it with a status on error."""
    trailing: Metadata = ()
    try:
        if not ctx.settings.public_api_enabled:
            raise PublicApiDisabled("The public API is disabled on this gateway.")
        principal = await ctx.accounts.authenticate(
            bearer_secret(metadata_value(context, "authorization")), scope
        )
        headers, over = await ctx.limiter.hit(principal.api_key_id, principal.rate_limit)
        trailing = tuple((name.lower(), value) for name, value in headers.items())
        if over is not None:
            raise over
        result = await run(principal)
    except GatewayError as exc:
        failure: GatewayError = exc
    except Exception:
        log.exception("a gRPC call failed")
        failure = GatewayError("The gateway could not complete this call.")
    else:
        context.set_trailing_metadata(trailing)
        return result
    await context.abort(
        status_for(failure),
        f"{failure.code}: {error_message(failure)}",
        trailing_metadata=trailing + error_metadata(failure),
    )
    raise AssertionError("abort raises")  # pragma: no cover


def _ascii(text: str) -> str:
    return text.encode("ascii", "replace").decode()
