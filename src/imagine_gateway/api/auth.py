"""Bearer API key authentication, scopes and the per-key rate limit."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from fastapi import Request

from imagine_gateway.api.context import AppContext
from imagine_gateway.core.errors import ApiKeyInvalid, ApiKeyMissing, PublicApiDisabled
from imagine_gateway.services.principal import Principal
from imagine_gateway.telemetry import logs


def bearer_token(header: str | None) -> str:
    """The key from an ``Authorization`` header's value, or the error that says what is wrong."""
    if not header:
        raise ApiKeyMissing("A valid Bearer API key is required.")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise ApiKeyInvalid("Use the header 'Authorization: Bearer <api key>'.")
    return token.strip()


async def authenticate(ctx: AppContext, request: Request, scope: str | None) -> Principal:
    """The caller's principal, after key, expiry, revocation, scope and rate-limit checks."""
    return await authenticate_header(ctx, request.headers.get("authorization"), request.scope["state"], scope)


async def authenticate_header(
    ctx: AppContext, authorization: str | None, state: dict[str, Any], scope: str | None
) -> Principal:
    """``authenticate`` from the header's value; ``state`` is the request's (``scope['state']``),
    which receives the rate-limit headers and the principal."""
    if not ctx.settings.public_api_enabled:
        raise PublicApiDisabled("The public API is disabled on this gateway.")
    principal = await ctx.accounts.authenticate(bearer_token(authorization), scope)
    headers, over = await ctx.limiter.hit(principal.api_key_id, principal.rate_limit)
    state["response_headers"].update(headers)
    if over is not None:
        raise over
    state["principal"] = principal
    logs.bind(account_id=principal.account_id)
    return principal


def context(request: Request) -> AppContext:
    ctx: AppContext = request.app.state.ctx
    return ctx


async def app_context(request: Request) -> AppContext:
    """``context`` as a dependency: async, since FastAPI runs a plain function on its thread pool
    (a thread hand-off on every request)."""
    ctx: AppContext = request.app.state.ctx
    return ctx


def require(scope: str | None) -> Callable[[Request], Awaitable[Principal]]:
    """A FastAPI dependency: ``principal: Principal = Depends(require("generations:read"))``."""

    async def dependency(request: Request) -> Principal:
        return await authenticate(context(request), request, scope)

    return dependency
