"""ASGI middleware: request ids, extra response headers, the last word on errors, the body size bound."""

from __future__ import annotations

import logging
from collections.abc import Callable

from starlette.requests import ClientDisconnect, Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from imagine_gateway.api.errors import render_error
from imagine_gateway.core.errors import GatewayError, InternalError, PayloadTooLarge, invalid
from imagine_gateway.core.ids import new_request_id

log = logging.getLogger("imagine_gateway.api")


class RequestContextMiddleware:
    """Gives every request an id, echoes it as ``X-Request-Id``, and adds headers handlers left in
    ``scope['state']['response_headers']`` (rate-limit headers), on success and error alike.

    It also answers what escaped the app's handlers: an unexpected exception becomes a 500 in the
    envelope with ``Connection: close``; a client that disconnected gets nothing and no error log."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        state = scope.setdefault("state", {})
        request_id = new_request_id()
        state["request_id"] = request_id
        state["response_headers"] = {}

        started = False

        async def send_with_headers(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
                headers = list(message.get("headers", []))
                headers.append((b"x-request-id", request_id.encode()))
                for name, value in state["response_headers"].items():
                    headers.append((name.lower().encode(), str(value).encode()))
                message["headers"] = headers
            await send(message)

        try:
            refuse_unstorable_url(scope)
            await self.app(scope, receive, send_with_headers)
        except ClientDisconnect:
            # The client went away mid-request: nobody to answer and nothing went wrong here.
            log.debug("client disconnected during %s %s", scope.get("method"), scope.get("path"))
        except GatewayError as exc:  # raised by a middleware, outside the app's own handlers
            if started:
                raise
            await render_error(Request(scope), exc)(scope, receive, send_with_headers)
        except Exception:
            if started:
                raise  # only closing the connection can tell the client the response broke off
            log.exception("unhandled error on %s %s", scope.get("method"), scope.get("path"))
            # Answered here, not re-raised: the server then writes no second traceback and ends the
            # connection cleanly after this response, so a pooled client's next request does not
            # meet a reset.
            response = render_error(Request(scope), InternalError("An internal error occurred."))
            response.headers["Connection"] = "close"
            await response(scope, receive, send_with_headers)


def refuse_unstorable_url(scope: Scope) -> None:
    """A NUL (``%00``) in the path or query can be neither stored nor looked up (PostgreSQL text)."""
    if b"%00" in scope.get("raw_path", b"") or "\x00" in scope.get("path", ""):
        raise invalid("path", "must not contain the NUL character (%00)")
    if b"%00" in scope.get("query_string", b""):
        raise invalid("query", "must not contain the NUL character (%00)")


class BodyLimitMiddleware:
    """Refuses bodies over the limit with 413, from Content-Length or while streaming."""

    def __init__(self, app: ASGIApp, *, limit_for: Callable[[str], int | None]) -> None:
        self.app = app
        self.limit_for = limit_for

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.limit_for(scope["path"])
        if limit is None:
            await self.app(scope, receive, send)
            return
        for name, value in scope.get("headers", []):
            if name == b"content-length" and value.isdigit() and int(value) > limit:
                response = render_error(Request(scope), _too_large(limit))
                await response(scope, receive, send)
                return
        seen = 0

        async def counting_receive() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > limit:
                    raise _too_large(limit)
            return message

        await self.app(scope, counting_receive, send)


def _too_large(limit: int) -> PayloadTooLarge:
    return PayloadTooLarge(f"The request body is larger than the limit of {limit} bytes.")
