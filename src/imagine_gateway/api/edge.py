"""The one ASGI layer every HTTP request passes before the routes: ids, headers, bounds, metrics,
the last word on errors, and the hot routes.

It used to be three middlewares (request context, observation, body limit), each wrapping
``receive`` and ``send`` again; one layer does the same work once. For each request it

- gives the request an id, echoes it as ``X-Request-Id``, and adds the headers handlers left in
  ``scope['state']['response_headers']`` (rate-limit headers), on success and error alike;
- refuses a NUL (``%00``) in the path or query, which can be neither stored nor looked up;
- bounds the body (413 from ``Content-Length``, or while it streams) where a limit applies;
- counts and times the request by route template and writes the access line when it is on;
- answers what escaped every handler: an unexpected exception becomes a 500 in the envelope with
  ``Connection: close``; a client that disconnected gets nothing and no error log.

Requests of the hot routes (``api.hot_routes``: a task's status, the task list, creation, the model
list) are answered right here, without FastAPI's routing and dependency solving; every other request goes on
to the FastAPI app, whose exception handlers render its errors.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable
from typing import Protocol

from starlette.requests import ClientDisconnect, Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from imagine_gateway.api.errors import render_error
from imagine_gateway.api.observe import Observer, route_labels
from imagine_gateway.core.errors import GatewayError, InternalError, PayloadTooLarge, invalid
from imagine_gateway.core.ids import new_request_id
from imagine_gateway.telemetry import logs

log = logging.getLogger("imagine_gateway.api")

HotHandler = Callable[[Scope, Receive, Send, str], Awaitable[None]]


class Delegate(Exception):
    """Raised by a hot route, before it has read, counted or sent anything, for a request it leaves
    to the FastAPI route (one whose query only that route's validation should answer)."""


class HotMatch(Protocol):
    """A hot route that takes a request: its template (a metrics label), handler and path value."""

    @property
    def template(self) -> str: ...

    @property
    def handler(self) -> HotHandler: ...


class HotTable(Protocol):
    def match(self, method: str, path: str) -> tuple[HotMatch, str] | None: ...


class Edge:
    """The layer described above, around ``app``."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        limit_for: Callable[[str], int | None],
        access_log: bool = False,
        hot: HotTable | None = None,
    ) -> None:
        self.app = app
        self.limit_for = limit_for
        self.observer = Observer(access_log=access_log)
        self.hot = hot

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        state = scope.setdefault("state", {})
        request_id = new_request_id()
        state["request_id"] = request_id
        extra_headers: dict[str, str] = {}
        state["response_headers"] = extra_headers
        logs.clear()
        logs.bind(request_id=request_id)
        status = 0  # 0: nothing sent yet

        async def send_marked(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
                headers = list(message.get("headers", []))
                headers.append((b"x-request-id", request_id.encode()))
                for name, value in extra_headers.items():
                    headers.append((name.lower().encode(), str(value).encode()))
                message["headers"] = headers
            await send(message)

        found = self.hot.match(scope["method"], scope["path"]) if self.hot is not None else None
        try:
            refuse_unstorable_url(scope)
            receive = self._bounded(scope, receive)
            if found is not None:
                try:
                    await found[0].handler(scope, receive, send_marked, found[1])
                except Delegate:
                    found = None  # counted under the FastAPI route's labels
                    await self.app(scope, receive, send_marked)
            else:
                await self.app(scope, receive, send_marked)
        except ClientDisconnect:
            # The client went away mid-request: nobody to answer and nothing went wrong here.
            log.debug("client disconnected during %s %s", scope.get("method"), scope.get("path"))
        except GatewayError as exc:  # from a hot route, this layer, or a middleware outside the app
            if status:
                raise
            await render_error(Request(scope), exc)(scope, receive, send_marked)
        except Exception:
            if status:
                raise  # only closing the connection can tell the client the response broke off
            log.exception("unhandled error on %s %s", scope.get("method"), scope.get("path"))
            # Answered here, not re-raised: the server then writes no second traceback and ends the
            # connection cleanly after this response, so a pooled client's next request does not
            # meet a reset.
            response = render_error(Request(scope), InternalError("An internal error occurred."))
            response.headers["Connection"] = "close"
            await response(scope, receive, send_marked)
        finally:
            labels = (found[0].template, "native") if found is not None else route_labels(scope)
            elapsed = time.perf_counter() - started
            # 500: what the client gets when the app raises before answering.
            self.observer.record(scope, labels, status or 500, elapsed, state.get("principal"))

    def _bounded(self, scope: Scope, receive: Receive) -> Receive:
        """``receive``, refusing a body over the path's limit (413) from its length or as it streams."""
        limit = self.limit_for(scope["path"])
        if limit is None:
            return receive
        for name, value in scope.get("headers", ()):
            if name == b"content-length" and value.isdigit() and int(value) > limit:
                raise too_large(limit)
        seen = 0

        async def counting_receive() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > limit:
                    raise too_large(limit)
            return message

        return counting_receive


def refuse_unstorable_url(scope: Scope) -> None:
    """A NUL (``%00``) in the path or query can be neither stored nor looked up (PostgreSQL text)."""
    if b"%00" in scope.get("raw_path", b"") or "\x00" in scope.get("path", ""):
        raise invalid("path", "must not contain the NUL character (%00)")
    if b"%00" in scope.get("query_string", b""):
        raise invalid("query", "must not contain the NUL character (%00)")


def too_large(limit: int) -> PayloadTooLarge:
    return PayloadTooLarge(f"The request body is larger than the limit of {limit} bytes.")
