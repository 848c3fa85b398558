"""The gateway's FastAPI class: a hot route's request enters at the app's own middlewares.

Every request FastAPI serves passes its outer layers first: FastAPI's and Starlette's ``__call__``,
``ServerErrorMiddleware`` (which wraps ``send`` once more), FastAPI's exception telemetry and its
body limit, each a coroutine frame on every call and on every ``send``. For the hot routes
(``api.hot_routes``: status, list, create, models) none of them does anything: the edge
(``api.edge``) answers every error of theirs itself, bounds their bodies itself, and FastAPI's
telemetry is off unless ``IMAGINE_OPENTELEMETRY`` asks for it. So their requests go straight to the
first middleware the gateway added (CORS when configured, else the edge), the layers below being
the same for every request. What that saves grows with the awaits that suspend a request: on
PostgreSQL a status read cost about 6 % less CPU (``docs/benchmarks.md``, step 27).

Every other request, the lifespan, and every request when FastAPI's telemetry is on, take
FastAPI's whole way, unchanged.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from starlette.types import ASGIApp, Receive, Scope, Send

from imagine_gateway.api.edge import HotTable


class GatewayApp(FastAPI):
    """FastAPI, with ``hot``'s requests handed to the app's first own middleware."""

    def __init__(self, *, hot: HotTable | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.hot = hot  # None: every request takes FastAPI's whole way
        self._front: ASGIApp | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        hot = self.hot
        if hot is not None and scope["type"] == "http" and hot.match(scope["method"], scope["path"]):
            front = self._front or self._find_front()
            if front is not None:
                if self.root_path:  # as FastAPI's own __call__
                    scope["root_path"] = self.root_path
                scope["app"] = self  # as Starlette's: Request.app, url_for
                await front(scope, receive, send)
                return
        await super().__call__(scope, receive, send)

    def _find_front(self) -> ASGIApp | None:
        """The first middleware of ``user_middleware`` in the built stack (None: there is none)."""
        if not self.user_middleware:
            self.hot = None
            return None
        if self.middleware_stack is None:
            self.middleware_stack = self.build_middleware_stack()
        first: object = self.user_middleware[0].cls
        node: Any = self.middleware_stack
        while node is not None and type(node) is not first:
            node = getattr(node, "app", None)
        if node is None:  # a FastAPI whose stack this walk does not know: its whole way, always
            self.hot = None
            return None
        front: ASGIApp = node
        self._front = front
        return front
