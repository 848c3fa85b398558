"""Bad values outside the body (cursors, Range headers, NUL in paths and queries) and failures of the
request itself (an unexpected error, a client that goes away): each answered cleanly, nothing changed."""

from __future__ import annotations

import base64
import io
import logging
import socket
import time
from collections.abc import Iterator

import httpx
import pytest
from PIL import Image

from imagine_gateway.api.app import create_app
from imagine_gateway.core.errors import invalid
from imagine_gateway.testing.loopback import LoopbackServer
from tests.conftest import Gateway, make_settings
from tests.matchers import REQUEST_ID, error_body


def cursor_of(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


NOT_OURS = [{"field": "cursor", "issue": "not a cursor this API returned"}]


@pytest.mark.parametrize(
    "raw",
    [b"1" * 1000 + b":task_x", b"9" * 5000 + b":task_x", b"99999999999999999999:task_x", b"1:task\x00x"],
    ids=["1000 digits", "5000 digits", "past 64 bits", "NUL in the id"],
)
@pytest.mark.parametrize(
    "path", ["/api/v1/generations", "/api/v1/webhook-events", "/api/v1/webhooks/wh_x/deliveries"]
)
def test_a_cursor_holding_a_huge_number_or_a_nul_is_validation_failed(
    gateway: Gateway, path: str, raw: bytes
) -> None:
    key = gateway.key(credits=10)
    response = gateway.http.get(path, headers=key.headers, params={"cursor": cursor_of(raw)})
    assert response.status_code == 400, response.text
    assert response.json() == error_body(
        "validation_failed", "cursor: not a cursor this API returned", NOT_OURS
    )


@pytest.fixture
def media_url(gateway: Gateway) -> str:
    key = gateway.key(credits=10)
    buffer = io.BytesIO()
    Image.new("RGB", (64, 48), (200, 20, 20)).save(buffer, "PNG")
    uploaded = gateway.http.post(
        "/api/v1/files",
        headers=key.headers,
        files={"file": ("red.png", buffer.getvalue(), "image/png")},
        data={"kind": "image"},
    )
    assert uploaded.status_code == 201, uploaded.text
    url: str = uploaded.json()["url"]
    return url


def test_a_range_whose_last_position_has_5000_digits_is_served_to_the_end(
    gateway: Gateway, media_url: str
) -> None:
    whole = gateway.http.get(media_url)
    ranged = gateway.http.get(media_url, headers={"Range": "bytes=10-" + "9" * 5000})
    assert ranged.status_code == 206
    assert ranged.headers["content-range"] == f"bytes 10-{len(whole.content) - 1}/{len(whole.content)}"
    assert ranged.content == whole.content[10:]


def test_a_suffix_range_of_5000_digits_is_the_whole_content(gateway: Gateway, media_url: str) -> None:
    whole = gateway.http.get(media_url)
    ranged = gateway.http.get(media_url, headers={"Range": "bytes=-" + "9" * 5000})
    assert (ranged.status_code, ranged.content) == (206, whole.content)


def test_a_range_starting_at_a_5000_digit_position_is_416(gateway: Gateway, media_url: str) -> None:
    size = len(gateway.http.get(media_url).content)
    ranged = gateway.http.get(media_url, headers={"Range": "bytes=" + "9" * 5000 + "-"})
    assert ranged.status_code == 416
    assert ranged.headers["content-range"] == f"bytes */{size}"
    assert ranged.json()["error"]["code"] == "range_not_satisfiable"
    assert len(ranged.json()["error"]["message"]) < 200


@pytest.mark.parametrize(
    ("url", "field"),
    [
        ("/api/v1/generations/task_a%00b", "path"),
        ("/api/v1/files/file_a%00b", "path"),
        ("/api/v1/generations?status=queued%00", "query"),
        ("/v1/status?task_id=task_a%00b", "query"),
    ],
)
def test_a_nul_in_the_path_or_query_is_validation_failed(gateway: Gateway, url: str, field: str) -> None:
    key = gateway.key(credits=10)
    response = gateway.http.get(url, headers=key.headers)
    assert response.status_code == 400
    issue = "must not contain the NUL character (%00)"
    body = response.json()
    assert body.get("error", body) != {}
    if url.startswith("/api/v1/"):
        assert body == error_body(
            "validation_failed", f"{field}: {issue}", [{"field": field, "issue": issue}]
        )
    else:
        assert (body["code"], body["error"]) == (400, "INVALID_REQUEST")


# --- failures of the request itself -------------------------------------------------------------


class Records(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)

    def errors(self) -> list[str]:
        return [f"{r.name}: {r.getMessage()}" for r in self.records if r.levelno >= logging.ERROR]


@pytest.fixture
def server_logs() -> Iterator[Records]:
    handler = Records()
    loggers = [logging.getLogger(name) for name in ("uvicorn.error", "imagine_gateway")]
    for logger in loggers:
        logger.addHandler(handler)
    yield handler
    for logger in loggers:
        logger.removeHandler(handler)


@pytest.fixture
def failing_gateway(tmp_path) -> Iterator[str]:  # type: ignore[no-untyped-def]
    """The gateway's app with one more route that fails unexpectedly, on a loopback server."""
    server = LoopbackServer()
    app = create_app(make_settings(tmp_path / "home", public_base_url=server.base_url))

    @app.get("/api/v1/always-fails")
    async def always_fails() -> None:
        raise RuntimeError("a bug")

    @app.get("/api/v1/echoes-a-surrogate")
    async def echoes_a_surrogate() -> None:
        raise invalid("model", "unknown model 'm\ud800'")

    server.app = app
    server.start()
    yield server.base_url
    server.stop()


def test_after_a_500_the_same_pooled_client_is_served_again(
    failing_gateway: str, server_logs: Records
) -> None:
    with httpx.Client(base_url=failing_gateway, timeout=10) as client:
        failed = client.get("/api/v1/always-fails")
        after = client.get("/api/v1/models")
    assert failed.status_code == 500
    assert failed.json() == error_body("internal_error", "An internal error occurred.")
    assert failed.headers["connection"] == "close"
    assert failed.headers["x-request-id"] == failed.json()["error"]["requestId"] == REQUEST_ID
    assert after.status_code == 200
    # One log line with the traceback, from the gateway; none from the server.
    assert server_logs.errors() == ["imagine_gateway.api: unhandled error on GET /api/v1/always-fails"]


def test_an_error_repeating_a_lone_surrogate_is_rendered_with_it_escaped(failing_gateway: str) -> None:
    response = httpx.get(failing_gateway + "/api/v1/echoes-a-surrogate", timeout=10)
    issue = "unknown model 'm\\ud800'"
    assert response.status_code == 400
    assert response.json() == error_body(
        "validation_failed", f"model: {issue}", [{"field": "model", "issue": issue}]
    )


def test_a_client_that_disconnects_mid_body_is_not_an_error(gateway: Gateway, server_logs: Records) -> None:
    key = gateway.key(credits=50)
    host, port = gateway.base_url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=5) as conn:
        conn.sendall(
            b"POST /api/v1/generations HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            + f"Authorization: Bearer {key.secret}\r\nContent-Length: 5000\r\n\r\n".encode()
            + b'{"model": "grok-imagine", "prompt": "'
        )
        time.sleep(0.3)  # the route is reading the body when the client goes
    time.sleep(0.5)
    assert server_logs.errors() == []
    assert gateway.http.get("/api/v1/credits", headers=key.headers).json()["balance"] == 50
    assert gateway.http.get("/api/v1/generations", headers=key.headers).json()["data"] == []
