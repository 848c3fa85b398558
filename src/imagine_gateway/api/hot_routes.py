"""The routes that carry most of a busy gateway's requests, answered by the edge (``api.edge``).

Clients poll a task's status every few seconds while it runs, create tasks, and read the model
list; together that is nearly every request. Served through FastAPI, such a request costs more in
the framework than in its own work: the path matched against every route in turn, the dependencies
solved, a ``Request`` built, the answer passed through the exception layers. Here each of them is
one dictionary look-up away and does what its FastAPI route does, by calling the same functions:

- the same authentication (``auth.authenticate_header``: key, expiry, revocation, account state,
  scope, the rate limit and its headers);
- the same body handling (the edge's size bound, ``request_json.json_body``'s content type and
  value checks);
- the same services and views (``generations.create_answer``, ``generations.task_answer``,
  ``catalog.models_document``), so the JSON is byte for byte what the FastAPI route answers;
- errors raised as the gateway's exceptions, which the edge renders in the native envelope;
- a request only the FastAPI route's validation should answer (a list query with a malformed or
  repeated value) ``Delegate``d to it before anything was read, counted or sent.

The FastAPI routes of these paths stay declared, calling the same functions: they are the paths'
OpenAPI description, and the list's answers the queries delegated to it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl

from starlette.requests import ClientDisconnect
from starlette.types import Receive, Scope, Send

from imagine_gateway.api.auth import authenticate_header
from imagine_gateway.api.context import AppContext
from imagine_gateway.api.edge import Delegate, HotHandler
from imagine_gateway.api.request_json import json_body
from imagine_gateway.api.v1.catalog import models_document
from imagine_gateway.api.v1.generations import create_answer, list_answer, task_answer

TASK_PREFIX = "/api/v1/generations/"
LIST_FILTERS = frozenset({"status", "model", "cursor"})


@dataclass(frozen=True)
class HotRoute:
    template: str  # the FastAPI route's path, so metrics count both under one label
    handler: HotHandler


class HotRoutes:
    """The hot routes of one app, by method and path."""

    def __init__(self, ctx: AppContext) -> None:
        self.ctx = ctx
        self._exact = {
            ("GET", "/api/v1/models"): HotRoute("/api/v1/models", self.models),
            ("POST", "/api/v1/generations"): HotRoute("/api/v1/generations", self.create),
            ("GET", "/api/v1/generations"): HotRoute("/api/v1/generations", self.list),
        }
        self._status = HotRoute(TASK_PREFIX + "{task_id}", self.status)

    def match(self, method: str, path: str) -> tuple[HotRoute, str] | None:
        """The route for this request and its path value (the task id), or None for FastAPI's."""
        route = self._exact.get((method, path))
        if route is not None:
            return route, ""
        if method == "GET" and path.startswith(TASK_PREFIX):
            task_id = path[len(TASK_PREFIX) :]
            if task_id and "/" not in task_id:  # as FastAPI's {task_id}: one segment
                return self._status, task_id
        return None

    async def models(self, scope: Scope, receive: Receive, send: Send, _: str) -> None:
        await send_json(send, 200, models_document(self.ctx))

    async def status(self, scope: Scope, receive: Receive, send: Send, task_id: str) -> None:
        principal = await authenticate_header(
            self.ctx, header(scope, b"authorization"), scope["state"], "generations:read"
        )
        await send_json(send, 200, await task_answer(self.ctx, principal, task_id))

    async def list(self, scope: Scope, receive: Receive, send: Send, _: str) -> None:
        query = list_query(scope["query_string"])
        principal = await authenticate_header(
            self.ctx, header(scope, b"authorization"), scope["state"], "generations:read"
        )
        await send_json(send, 200, await list_answer(self.ctx, principal, **query))

    async def create(self, scope: Scope, receive: Receive, send: Send, _: str) -> None:
        principal = await authenticate_header(
            self.ctx, header(scope, b"authorization"), scope["state"], "generations:create"
        )
        value = json_body(header(scope, b"content-type"), await read_body(receive))
        body, headers = await create_answer(self.ctx, principal, value, header(scope, b"idempotency-key"))
        await send_json(send, 202, body, headers)


def list_query(raw: bytes) -> dict[str, Any]:
    """The list's filters and limit, when every one is given once, not empty, and the limit is a
    number from 1 to 100 (anything else ``Delegate``s, so FastAPI's validation answers it)."""
    query: dict[str, Any] = {}
    for name, value in parse_qsl(raw.decode("latin-1"), keep_blank_values=True):
        if name in query or not value:
            raise Delegate
        if name == "limit":
            if not (len(value) <= 3 and value.isascii() and value.isdigit() and 1 <= int(value) <= 100):
                raise Delegate
            query[name] = int(value)
        elif name in LIST_FILTERS:
            query[name] = value
    return query


def header(scope: Scope, name: bytes) -> str | None:
    """The first value of the (lower-case) header ``name``, as Starlette's ``Headers.get`` gives it."""
    for key, value in scope["headers"]:
        if key == name:
            return value.decode("latin-1")  # type: ignore[no-any-return]
    return None


async def read_body(receive: Receive) -> bytes:
    """The whole request body (the edge's ``receive`` bounds its size)."""
    chunks = []
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise ClientDisconnect()
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            return b"".join(chunks)


async def send_json(send: Send, status: int, body: bytes, headers: Mapping[str, str] | None = None) -> None:
    raw = [(b"content-length", str(len(body)).encode()), (b"content-type", b"application/json")]
    for name, value in (headers or {}).items():
        raw.append((name.lower().encode("latin-1"), value.encode("latin-1")))
    await send({"type": "http.response.start", "status": status, "headers": raw})
    await send({"type": "http.response.body", "body": body})
