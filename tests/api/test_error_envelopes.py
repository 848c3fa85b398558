"""Error envelopes belong to the app that registers them: two apps in one process keep their own shapes."""

from __future__ import annotations

import httpx
from fastapi import FastAPI, Request
from starlette.responses import JSONResponse, Response

from imagine_gateway.api.errors import install_error_handlers, register_envelope
from imagine_gateway.core.errors import GatewayError
from imagine_gateway.testing.loopback import LoopbackServer
from tests.conftest import Gateway
from tests.matchers import Matches


def plain_app() -> FastAPI:
    """An app with the native envelope only."""
    app = FastAPI()
    install_error_handlers(app)
    return app


def test_an_app_without_dialects_keeps_the_native_envelope_beside_a_gateway(gateway: Gateway) -> None:
    with LoopbackServer(plain_app()) as plain:
        native = httpx.get(f"{plain.base_url}/v1/videos/a/b/c/nowhere")
    dialect = gateway.http.get("/v1/videos/a/b/c/nowhere")

    assert (native.status_code, native.json()) == (
        404,
        {
            "error": {
                "code": "not_found",
                "message": "No route matches GET /v1/videos/a/b/c/nowhere.",
                "requestId": "req_unknown",
            }
        },
    )
    assert (dialect.status_code, dialect.json()) == (
        404,
        {
            "error": {
                "message": "No route matches GET /v1/videos/a/b/c/nowhere.",
                "type": "invalid_request_error",
                "param": None,
                "code": "not_found",
                "request_id": Matches(r"req_[0-9a-f]{24}"),
            }
        },
    )


def test_an_envelope_registered_on_one_app_is_not_used_by_another() -> None:
    def shout(exc: GatewayError, request_id: str) -> Response:
        return JSONResponse({"shouted": exc.code.upper()}, status_code=exc.status)

    def everything(_request: Request) -> bool:
        return True

    loud, quiet = plain_app(), plain_app()
    register_envelope(loud, everything, shout)
    with LoopbackServer(loud) as loud_server, LoopbackServer(quiet) as quiet_server:
        shouted = httpx.get(f"{loud_server.base_url}/missing")
        plain = httpx.get(f"{quiet_server.base_url}/missing")

    assert (shouted.status_code, shouted.json()) == (404, {"shouted": "NOT_FOUND"})
    assert (plain.status_code, plain.json()["error"]["code"]) == (404, "not_found")
