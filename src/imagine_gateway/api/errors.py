"""Rendering errors in each wire shape's envelope.

The native (Rivya) envelope is the default; a dialect registers its own renderer for its paths on the
app that mounts it, so two apps in one process never see each other's shapes.
"""

from __future__ import annotations

import copy
import logging
from collections.abc import Callable
from dataclasses import dataclass

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.applications import Starlette
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import JSONResponse, Response

from imagine_gateway.core.errors import (
    FieldError,
    GatewayError,
    InternalError,
    MethodNotAllowed,
    NotFound,
    RangeNotSatisfiable,
    RateLimited,
    ValidationFailed,
)

log = logging.getLogger("imagine_gateway.api")

Renderer = Callable[[GatewayError, str], Response]


@dataclass(frozen=True)
class Envelope:
    matches: Callable[[Request], bool]
    render: Renderer


def register_envelope(app: Starlette, matches: Callable[[Request], bool], render: Renderer) -> None:
    """A dialect's error shape for the requests it serves on ``app`` (first match wins)."""
    envelopes: list[Envelope] | None = getattr(app.state, "error_envelopes", None)
    if envelopes is None:
        envelopes = []
        app.state.error_envelopes = envelopes
    envelopes.append(Envelope(matches, render))


def _envelopes(request: Request) -> list[Envelope]:
    app = request.scope.get("app")  # set by the app before any middleware runs
    found: list[Envelope] = getattr(app.state, "error_envelopes", []) if app is not None else []
    return found


def native_body(exc: GatewayError, request_id: str) -> dict[str, object]:
    error: dict[str, object] = {"code": exc.code, "message": exc.message, "requestId": request_id}
    if exc.details:
        error["details"] = [d.as_dict() for d in exc.details]
    return {"error": error}


def render_native(exc: GatewayError, request_id: str) -> Response:
    return JSONResponse(native_body(exc, request_id), status_code=exc.status)


def error_headers(exc: GatewayError) -> dict[str, str]:
    headers: dict[str, str] = {}
    if isinstance(exc, RateLimited):
        headers["Retry-After"] = str(exc.retry_after_s)
    if isinstance(exc, RangeNotSatisfiable) and getattr(exc, "size_bytes", None) is not None:
        headers["Content-Range"] = f"bytes */{exc.size_bytes}"  # type: ignore[attr-defined]
    return headers


def render_error(request: Request, exc: GatewayError) -> Response:
    request_id = getattr(request.state, "request_id", "req_unknown")
    renderer: Renderer = render_native
    for envelope in _envelopes(request):
        if envelope.matches(request):
            renderer = envelope.render
            break
    try:
        response = renderer(exc, request_id)
    except UnicodeEncodeError:
        # A message that repeats a client's value holding a lone surrogate cannot be UTF-8 encoded:
        # the same error, with that value escaped, rather than a failure to report it.
        response = renderer(_printable(exc), request_id)
    for name, value in error_headers(exc).items():
        response.headers[name] = value
    return response


def _printable(exc: GatewayError) -> GatewayError:
    def clean(text: str) -> str:
        return text.encode("utf-8", "backslashreplace").decode("utf-8")

    def clean_any(value: object) -> object:
        if isinstance(value, str):
            return clean(value)
        if isinstance(value, list | tuple):
            return [clean_any(v) for v in value]
        if isinstance(value, dict):
            return {clean(str(k)): clean_any(v) for k, v in value.items()}
        return value

    printable = copy.copy(exc)
    printable.message = clean(exc.message)
    printable.details = [
        FieldError(clean(d.field), clean(d.issue), clean_any(d.allowed)) for d in exc.details
    ]
    return printable


def install_error_handlers(app: FastAPI) -> None:
    async def on_gateway_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, GatewayError)
        return render_error(request, exc)

    async def on_http_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, StarletteHTTPException)
        mapped: GatewayError
        if exc.status_code == 404:
            mapped = NotFound(f"No route matches {request.method} {request.url.path}.")
        elif exc.status_code == 405:
            mapped = MethodNotAllowed(f"{request.method} is not allowed on {request.url.path}.")
        else:
            mapped = InternalError(str(exc.detail))
            mapped.status = exc.status_code  # type: ignore[misc]
        return render_error(request, mapped)

    async def on_request_validation(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, RequestValidationError)
        details = [
            FieldError(
                ".".join(str(p) for p in err.get("loc", ()) if p not in ("query", "path", "header")),
                err.get("msg", "invalid"),
            )
            for err in exc.errors()
        ]
        return render_error(
            request,
            ValidationFailed(
                details[0].field + ": " + details[0].issue if details else "Invalid request.", details
            ),
        )

    async def on_unexpected(request: Request, exc: Exception) -> Response:
        log.exception("unhandled error on %s %s", request.method, request.url.path)
        return render_error(request, InternalError("An internal error occurred."))

    app.add_exception_handler(GatewayError, on_gateway_error)
    app.add_exception_handler(StarletteHTTPException, on_http_error)
    app.add_exception_handler(RequestValidationError, on_request_validation)
    app.add_exception_handler(Exception, on_unexpected)
