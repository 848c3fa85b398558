"""The bad-input corpus: every JSON route and every dialect, taken from the app's own OpenAPI
document, meets the values that broke gateways before (lone surrogates, NUL, deep nesting, huge and
non-finite numbers, non-integral whole numbers, bytes that are not UTF-8) and answers each with a
4xx in its own envelope, creating and charging nothing."""

from __future__ import annotations

import io
import json
import struct
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import Gateway, Key, start_gateway
from tests.matchers import REQUEST_ID, Matches, error_body
from tests.reliability.conftest import Scenario

CREDITS = 500
BODY_METHODS = ("post", "patch", "put")
MARK = "@@value@@"


@pytest.fixture(scope="module")
def corpus_gateway(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Gateway]:
    gateway = start_gateway(tmp_path_factory.mktemp("corpus"))
    yield gateway
    gateway.stop()


@pytest.fixture(scope="module")
def corpus_key(corpus_gateway: Gateway) -> Key:
    return corpus_gateway.key(credits=CREDITS)


def json_operations(gateway: Gateway) -> list[tuple[str, str]]:
    """(method, path) of every operation that takes a body, except the multipart Files upload."""
    spec = gateway.http.get("/api/v1/openapi.json").json()
    found = []
    for path, operations in spec["paths"].items():
        for method, operation in operations.items():
            content = operation.get("requestBody", {}).get("content", {})
            if method in BODY_METHODS and list(content) != ["multipart/form-data"]:
                found.append((method, path.replace("{", "").replace("}", "")))
    return found


# A body each route would take, so that the bad value sits where the route reads it.
VALID_BODIES: dict[str, dict[str, Any]] = {
    "/api/v1/generations": {"model": "grok-imagine-video", "prompt": "a fox", "params": {"duration": 6}},
    "/api/v1/webhooks": {"url": "https://example.com/hook"},
    "/v1/videos/generations": {"model": "grok-imagine-video", "prompt": "a fox", "duration": 6},
    "/v1/images/generations": {"model": "grok-imagine-image", "prompt": "a fox", "n": 1},
    "/v1/videos": {"prompt": "a fox", "seconds": "6"},
    "/v1/generate": {"prompt": "a fox", "duration": 6},
}
# The whole-number fields of each route: where a huge or non-integral number goes.
NUMBER_FIELDS: dict[str, list[str]] = {
    "/api/v1/generations": ["params.duration", "params.resolution"],
    "/v1/videos/generations": ["duration"],
    "/v1/images/generations": ["n"],
    "/v1/images/edits": ["n"],
    "/v1/videos": ["seconds", "duration"],
    "/v1/generate": ["duration"],
}


def body_with(path: str, field: str, literal: str) -> bytes:
    """The route's valid body with ``field`` (dotted) set to the raw JSON ``literal``."""
    body = json.loads(json.dumps(VALID_BODIES.get(path, {"prompt": "a fox"})))
    *parents, last = field.split(".")
    where = body
    for name in parents:
        where = where.setdefault(name, {})
    where[last] = MARK
    return json.dumps(body).replace(json.dumps(MARK), literal).encode()


def text_cases(path: str) -> list[tuple[str, bytes, str | None]]:
    """(case, raw body, field the error must name or None) for values that are not storable text."""
    text_field = "url" if path.startswith("/api/v1/webhooks") else "prompt"
    return [
        ("lone surrogate in a value", body_with(path, text_field, '"a\\ud800b"'), text_field),
        ("lone low surrogate", body_with(path, text_field, '"\\udfff"'), text_field),
        ("lone surrogate repeated by the error", body_with(path, "model", '"m\\ud83d"'), "model"),
        ("surrogate in a key", body_with(path, "extra", "1").replace(b'"extra"', b'"\\ud800"'), None),
        (
            "surrogate in a file id of a reference URL",
            body_with(path, "image", '{"url": "http://127.0.0.1/media/uploads/file_\\ud800.png"}'),
            "image.url",
        ),
        (
            "raw UTF-8 encoded surrogate",
            body_with(path, text_field, '"@"').replace(b"@", b"\xed\xa0\x80"),
            text_field,
        ),
        ("NUL in a value", body_with(path, text_field, '"a\\u0000b"'), text_field),
        ("bytes that are not UTF-8", b'{"prompt": "\xff\xfe"}', "body"),
    ]


def structure_cases(path: str) -> list[tuple[str, bytes, str | None]]:
    return [
        ("arrays nested 10,000 deep", b"[" * 10_000 + b"]" * 10_000, "body"),
        ("objects nested 10,000 deep", b'{"a":' * 10_000 + b"1" + b"}" * 10_000, "body"),
        ("unclosed nesting 100,000 deep", b"[" * 100_000, "body"),
        ("a field nested 200 deep", body_with(path, "params", "[" * 200 + "]" * 200), "params"),
        ("NaN", body_with(path, "prompt", "NaN"), "prompt"),
    ]


def number_cases(path: str) -> list[tuple[str, bytes, str | None]]:
    cases = []
    for field in NUMBER_FIELDS.get(path, ["n"]):
        cases += [
            (f"5,000-digit integer in {field}", body_with(path, field, "1" * 5000), field),
            (f"10^400 in {field}", body_with(path, field, "1" + "0" * 400), field),
            (f"-10^400 in {field}", body_with(path, field, "-1" + "0" * 400), field),
            (f"2^53 in {field}", body_with(path, field, str(2**53)), field),
            (f"1e400 in {field}", body_with(path, field, "1e400"), field),
            (f"Infinity in {field}", body_with(path, field, "-Infinity"), field),
        ]
        if path in VALID_BODIES and path != "/v1/generate":  # routes that read a whole number
            # Checked by the route against its model, after the model itself: any refusal will do.
            cases.append((f"6.0000000001 in {field}", body_with(path, field, "6.0000000001"), None))
    return cases


class _Any:
    def __eq__(self, other: object) -> bool:
        return True

    def __repr__(self) -> str:
        return "ANY"


ANY = _Any()
CODE = Matches(r"[a-z_]+")
TEXT = Matches(r"(?s).+")


def expected_envelope(path: str, status: int, field: str | None) -> dict[str, Any]:
    """The whole error body, in the envelope the route's clients read (``allowed`` left out)."""
    if path == "/v1/generate":
        return {"code": status, "message": TEXT, "error": Matches(r"[A-Z_]+"), "request_id": REQUEST_ID}
    if path.startswith("/v1/"):
        error = {"message": TEXT, "type": "invalid_request_error", "param": field or ANY, "code": CODE}
        if field is not None:
            error["details"] = [{"field": field, "issue": TEXT}]
        return {"error": {**error, "request_id": REQUEST_ID}}
    native: dict[str, Any] = {"code": CODE, "message": TEXT, "requestId": REQUEST_ID}
    if field is not None:
        native["details"] = [{"field": field, "issue": TEXT}]
    return {"error": native}


def without_allowed(body: dict[str, Any]) -> dict[str, Any]:
    error = body.get("error")
    if isinstance(error, dict) and isinstance(error.get("details"), list):
        details = [{k: v for k, v in d.items() if k != "allowed"} for d in error["details"]]
        return {**body, "error": {**error, "details": details}}
    return body


def assert_refused(gateway: Gateway, key: Key, method: str, path: str, raw: bytes, field: str | None) -> None:
    response = gateway.http.request(
        method.upper(), path, headers={**key.headers, "Content-Type": "application/json"}, content=raw
    )
    assert 400 <= response.status_code < 500, (response.status_code, response.text[:300])
    body = without_allowed(response.json())
    if field is None and isinstance(body.get("error"), dict):
        body["error"].pop("details", None)
    assert body == expected_envelope(path, response.status_code, field)
    assert response.headers["x-request-id"] == REQUEST_ID


def assert_nothing_created(gateway: Gateway, key: Key) -> None:
    assert gateway.http.get("/api/v1/credits", headers=key.headers).json()["balance"] == CREDITS
    assert gateway.http.get("/api/v1/generations", headers=key.headers).json()["data"] == []
    assert gateway.http.get("/api/v1/webhooks", headers=key.headers).json()["data"] == []


@pytest.mark.parametrize("kind", ["text", "structure", "numbers"])
def test_every_json_route_refuses_the_corpus_in_its_envelope_and_changes_nothing(
    corpus_gateway: Gateway, corpus_key: Key, kind: str
) -> None:
    operations = json_operations(corpus_gateway)
    assert ("post", "/api/v1/generations") in operations and ("post", "/v1/generate") in operations
    make = {"text": text_cases, "structure": structure_cases, "numbers": number_cases}[kind]
    tried = 0
    for method, path in operations:
        for case, raw, field in make(path):
            reads_the_field = path in VALID_BODIES or path in NUMBER_FIELDS
            try:
                assert_refused(
                    corpus_gateway, corpus_key, method, path, raw, field if reads_the_field else None
                )
            except AssertionError as exc:
                raise AssertionError(f"{method.upper()} {path}: {case}: {exc}") from exc
            tried += 1
    assert tried >= 10 * len(operations) // 2
    assert_nothing_created(corpus_gateway, corpus_key)
    Scenario(f"Bad-input corpus ({kind}) against every JSON route and dialect").record(
        tries=tried, unit="requests", routes=len(operations), server_errors=0, created=0, charged=0
    )


# --- media that lies about itself ---------------------------------------------------------------


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def lying_png(width: int = 7000, height: int = 7000, rows: int = 50) -> bytes:
    """A valid PNG header declaring ``width`` x ``height``, with image data for ``rows`` rows only."""
    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    data = zlib.compress(b"".join(b"\x00" + b"\x80" * width for _ in range(rows)), 9)
    return b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", header) + _chunk(b"IDAT", data) + _chunk(b"IEND", b"")


def test_a_png_with_fewer_rows_than_it_declares_is_refused_naming_the_file(
    corpus_gateway: Gateway, corpus_key: Key
) -> None:
    lying = lying_png()
    assert len(lying) < 1024
    response = corpus_gateway.http.post(
        "/api/v1/files",
        headers=corpus_key.headers,
        files={"file": ("lying.png", lying, "image/png")},
        data={"kind": "image"},
    )
    issue = "is truncated: its data holds 50 of the 7000 rows it declares"
    assert response.status_code == 400
    assert response.json() == error_body(
        "validation_failed", f"file: {issue}", [{"field": "file", "issue": issue}]
    )


def lying_jpeg() -> bytes:
    """A real 16x16 JPEG whose frame header was rewritten to declare 7000x7000."""
    from PIL import Image

    buffer = io.BytesIO()
    Image.new("RGB", (16, 16), (200, 30, 30)).save(buffer, "JPEG")
    data = bytearray(buffer.getvalue())
    struct.pack_into(">HH", data, data.find(b"\xff\xc0") + 5, 7000, 7000)
    return bytes(data)


def test_a_jpeg_far_too_short_for_the_size_it_declares_is_refused_naming_the_file(
    corpus_gateway: Gateway, corpus_key: Key
) -> None:
    lying = lying_jpeg()
    response = corpus_gateway.http.post(
        "/api/v1/files",
        headers=corpus_key.headers,
        files={"file": ("lying.jpg", lying, "image/jpeg")},
        data={"kind": "image"},
    )
    issue = f"is truncated: {len(lying)} bytes cannot hold a 7000x7000 image (at least 143665)"
    assert response.status_code == 400
    assert response.json() == error_body(
        "validation_failed", f"file: {issue}", [{"field": "file", "issue": issue}]
    )


def test_a_complete_png_is_still_accepted_with_its_size(corpus_gateway: Gateway, corpus_key: Key) -> None:
    from PIL import Image

    buffer = io.BytesIO()
    Image.new("RGB", (300, 200), (10, 200, 30)).save(buffer, "PNG")
    response = corpus_gateway.http.post(
        "/api/v1/files",
        headers=corpus_key.headers,
        files={"file": ("ok.png", buffer.getvalue(), "image/png")},
        data={"kind": "image"},
    )
    assert response.status_code == 201, response.text
    assert (response.json()["width"], response.json()["height"]) == (300, 200)


def test_a_lying_png_uploaded_as_input_reference_is_refused_and_charges_nothing(
    corpus_gateway: Gateway, corpus_key: Key
) -> None:
    response = corpus_gateway.http.post(
        "/v1/videos",
        headers=corpus_key.headers,
        data={"prompt": "a fox", "seconds": "6"},
        files={"input_reference": ("lying.png", lying_png(), "image/png")},
    )
    assert response.status_code == 400, response.text
    error = response.json()["error"]
    assert (error["code"], error["param"]) == ("validation_failed", "file")
    assert "truncated" in error["message"]
    assert_nothing_created(corpus_gateway, corpus_key)


def test_whole_number_params_read_6_point_0_as_6_and_refuse_6_point_0000000001(
    corpus_gateway: Gateway, tmp_path: Path
) -> None:
    key = corpus_gateway.key(credits=100)
    body = {"model": "grok-imagine-video", "prompt": "a fox", "params": {"duration": 6.0}}
    created = corpus_gateway.http.post(
        "/api/v1/generations", headers={**key.headers, "Idempotency-Key": "six"}, json=body
    )
    assert created.status_code == 202
    assert created.json()["params"]["duration"] == 6
    again = {**body, "params": {"duration": 6}}
    replay = corpus_gateway.http.post(
        "/api/v1/generations", headers={**key.headers, "Idempotency-Key": "six"}, json=again
    )
    assert (replay.status_code, replay.json()["id"]) == (202, created.json()["id"])
    refused = corpus_gateway.http.post(
        "/api/v1/generations",
        headers=key.headers,
        json={**body, "params": {"duration": 6.0000000001}},
    )
    assert refused.status_code == 400
    assert refused.json()["error"]["details"] == [
        {
            "field": "params.duration",
            "issue": "6.0000000001 is not a multiple of 1 from 6",
            "allowed": {"min": 6, "max": 30, "step": 1},
        }
    ]
