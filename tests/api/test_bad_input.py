"""Every bad request gets a clear error in the envelope and changes nothing."""

from __future__ import annotations

from typing import Any

import pytest

from tests.conftest import Gateway, Key
from tests.matchers import REQUEST_ID, error_body

VIDEO_PARAMS_ALLOWED = ["mode", "duration", "resolution", "aspect_ratio", "referenceMediaItems"]
DURATION = {"min": 6, "max": 30, "step": 1}


def assert_nothing_changed(gateway: Gateway, key: Key, balance: int) -> None:
    assert gateway.http.get("/api/v1/credits", headers=key.headers).json()["balance"] == balance
    assert gateway.http.get("/api/v1/generations", headers=key.headers).json()["data"] == []


BAD_BODIES: list[tuple[str, Any, list[dict[str, Any]]]] = [
    (
        "missing prompt",
        {"model": "grok-imagine-video"},
        [{"field": "prompt", "issue": "is required", "allowed": {"max_length": 5000}}],
    ),
    (
        "empty prompt",
        {"model": "grok-imagine-video", "prompt": "  "},
        [{"field": "prompt", "issue": "must not be empty", "allowed": {"max_length": 5000}}],
    ),
    (
        "prompt of 5001 characters",
        {"model": "grok-imagine-video", "prompt": "x" * 5001},
        [
            {
                "field": "prompt",
                "issue": "is 5001 characters; the limit is 5000",
                "allowed": {"max_length": 5000},
            }
        ],
    ),
    (
        "unknown model",
        {"model": "sora-9", "prompt": "x"},
        [
            {
                "field": "model",
                "issue": "unknown model 'sora-9'",
                "allowed": [
                    "grok-imagine",
                    "grok-imagine-video",
                    "grok-imagine-video-1.5",
                    "grok-imagine-video-1.5-lite",
                    "grok-imagine-image",
                    "grok-imagine-image-2.0",
                ],
            }
        ],
    ),
    (
        "unknown param",
        {"model": "grok-imagine-video", "prompt": "x", "params": {"fps": 24}},
        [{"field": "params.fps", "issue": "unknown parameter", "allowed": VIDEO_PARAMS_ALLOWED}],
    ),
    (
        "duration 5",
        {"model": "grok-imagine-video", "prompt": "x", "params": {"duration": 5}},
        [{"field": "params.duration", "issue": "5 is below the minimum 6", "allowed": DURATION}],
    ),
    (
        "duration 31",
        {"model": "grok-imagine-video", "prompt": "x", "params": {"duration": 31}},
        [{"field": "params.duration", "issue": "31 is above the maximum 30", "allowed": DURATION}],
    ),
    (
        "duration 6.5",
        {"model": "grok-imagine-video", "prompt": "x", "params": {"duration": 6.5}},
        [{"field": "params.duration", "issue": "6.5 is not a multiple of 1 from 6", "allowed": DURATION}],
    ),
    (
        "duration abc",
        {"model": "grok-imagine-video", "prompt": "x", "params": {"duration": "abc"}},
        [{"field": "params.duration", "issue": "must be a number, got 'abc'", "allowed": DURATION}],
    ),
    (
        "resolution 1080p",
        {"model": "grok-imagine-video", "prompt": "x", "params": {"resolution": "1080p"}},
        [
            {
                "field": "params.resolution",
                "issue": "'1080p' is not one of the options",
                "allowed": ["480p", "720p"],
            }
        ],
    ),
    (
        "params not an object",
        {"model": "grok-imagine-video", "prompt": "x", "params": [1]},
        [{"field": "params", "issue": "must be a JSON object", "allowed": VIDEO_PARAMS_ALLOWED}],
    ),
    ("body not an object", [1, 2], [{"field": "body", "issue": "must be a JSON object"}]),
]


@pytest.mark.parametrize(("case", "body", "details"), BAD_BODIES, ids=[c[0] for c in BAD_BODIES])
def test_invalid_create_is_validation_failed_naming_the_field(
    gateway: Gateway, case: str, body: Any, details: list[dict[str, Any]]
) -> None:
    key = gateway.key(credits=50)
    response = gateway.http.post("/api/v1/generations", headers=key.headers, json=body)
    assert response.status_code == 400
    first = details[0]
    assert response.json() == error_body("validation_failed", f"{first['field']}: {first['issue']}", details)
    assert response.headers["x-request-id"] == response.json()["error"]["requestId"]
    assert_nothing_changed(gateway, key, 50)


def test_body_that_is_not_json_is_validation_failed(gateway: Gateway) -> None:
    key = gateway.key(credits=50)
    response = gateway.http.post(
        "/api/v1/generations",
        headers={**key.headers, "Content-Type": "application/json"},
        content=b'{"model": "grok-imagine",',
    )
    assert response.status_code == 400
    assert response.json() == error_body(
        "validation_failed",
        "The body is not valid JSON at line 1 column 26.",
        [{"field": "body", "issue": "is not valid JSON at line 1 column 26"}],
    )
    assert_nothing_changed(gateway, key, 50)


def test_wrong_content_type_is_415(gateway: Gateway) -> None:
    key = gateway.key(credits=50)
    response = gateway.http.post(
        "/api/v1/generations",
        headers={**key.headers, "Content-Type": "text/plain"},
        content=b"model=grok-imagine",
    )
    assert response.status_code == 415
    assert response.json() == error_body(
        "unsupported_media_type",
        "The body must be JSON sent with 'Content-Type: application/json' (got 'text/plain').",
    )
    assert_nothing_changed(gateway, key, 50)


def test_body_of_2_mb_is_413(gateway: Gateway) -> None:
    key = gateway.key(credits=50)
    big = b'{"model":"grok-imagine","prompt":"' + b"x" * 2_000_000 + b'"}'
    response = gateway.http.post(
        "/api/v1/generations", headers={**key.headers, "Content-Type": "application/json"}, content=big
    )
    assert response.status_code == 413
    assert response.json() == error_body(
        "payload_too_large", "The request body is larger than the limit of 1048576 bytes."
    )
    assert_nothing_changed(gateway, key, 50)


def test_chunked_body_over_the_limit_is_413(gateway: Gateway) -> None:
    key = gateway.key(credits=50)

    def chunks():  # type: ignore[no-untyped-def]
        yield b'{"model":"grok-imagine","prompt":"'
        for _ in range(40):
            yield b"x" * 65536
        yield b'"}'

    response = gateway.http.post(
        "/api/v1/generations", headers={**key.headers, "Content-Type": "application/json"}, content=chunks()
    )
    assert response.status_code == 413
    assert response.json()["error"]["code"] == "payload_too_large"
    assert_nothing_changed(gateway, key, 50)


def test_unknown_route_is_not_found_in_the_envelope(gateway: Gateway) -> None:
    response = gateway.http.get("/api/v1/nothing-here")
    assert response.status_code == 404
    assert response.json() == error_body("not_found", "No route matches GET /api/v1/nothing-here.")
    assert response.headers["x-request-id"] == REQUEST_ID


@pytest.mark.parametrize(
    ("headers", "code", "message"),
    [
        ({}, "api_key_missing", "A valid Bearer API key is required."),
        (
            {"Authorization": "Basic dXNlcjpwYXNz"},
            "api_key_invalid",
            "Use the header 'Authorization: Bearer <api key>'.",
        ),
        ({"Authorization": "Bearer igw_sk_not-a-real-key"}, "api_key_invalid", "The API key is not valid."),
    ],
    ids=["missing", "wrong scheme", "unknown key"],
)
def test_bad_credentials_are_401(gateway: Gateway, headers: dict[str, str], code: str, message: str) -> None:
    response = gateway.http.post(
        "/api/v1/generations", headers=headers, json={"model": "grok-imagine", "prompt": "x"}
    )
    assert response.status_code == 401
    assert response.json() == error_body(code, message)


def test_revoked_key_is_401_api_key_revoked(gateway: Gateway) -> None:
    import asyncio

    from imagine_gateway.services.accounts import open_accounts

    async def revoke(key_id: str) -> None:
        async with open_accounts(gateway.settings) as accounts:
            await accounts.revoke_key(key_id)

    key = gateway.key(credits=50)
    asyncio.run(revoke(key.key_id))
    response = gateway.http.post(
        "/api/v1/generations", headers=key.headers, json={"model": "grok-imagine", "prompt": "x"}
    )
    assert response.status_code == 401
    assert response.json() == error_body("api_key_revoked", "This API key was revoked.")


def test_expired_key_is_401_api_key_expired(gateway: Gateway) -> None:
    key = gateway.key(credits=50, expires_in_s=-1)
    response = gateway.http.get("/api/v1/credits", headers=key.headers)
    assert response.status_code == 401
    assert response.json() == error_body("api_key_expired", "This API key has expired.")


def test_missing_scope_is_403(gateway: Gateway) -> None:
    key = gateway.key(credits=50, scopes=["generations:read"])
    response = gateway.http.post(
        "/api/v1/generations", headers=key.headers, json={"model": "grok-imagine", "prompt": "x"}
    )
    assert response.status_code == 403
    assert response.json() == error_body(
        "api_scope_denied", "This API key lacks the scope 'generations:create'."
    )


def test_balance_too_low_is_402_and_creates_nothing(gateway: Gateway) -> None:
    key = gateway.key(credits=9)
    response = gateway.http.post(
        "/api/v1/generations", headers=key.headers, json={"model": "grok-imagine-video", "prompt": "x"}
    )
    assert response.status_code == 402
    assert response.json() == error_body(
        "insufficient_credits", "This needs 10 credits; the account has 9 available."
    )
    assert_nothing_changed(gateway, key, 9)


def test_rate_limit_answers_429_with_retry_after_and_headers(gateway_factory) -> None:  # type: ignore[no-untyped-def]
    gateway = gateway_factory(rate_limit="3/minute")
    key = gateway.key()
    seen = []
    for _ in range(3):
        r = gateway.http.get("/api/v1/credits", headers=key.headers)
        seen.append((r.status_code, r.headers["x-ratelimit-limit"], r.headers["x-ratelimit-remaining"]))
    assert seen == [(200, "3", "2"), (200, "3", "1"), (200, "3", "0")]
    limited = gateway.http.get("/api/v1/credits", headers=key.headers)
    assert limited.status_code == 429
    assert limited.json() == error_body(
        "rate_limited", "Too many requests: the limit is 3 per 60 s. Back off and retry."
    )
    # A slot frees when the oldest request's bucket (1/60 of the window) leaves it: at most 61 s.
    assert 1 <= int(limited.headers["retry-after"]) <= 61
    assert limited.headers["x-ratelimit-remaining"] == "0"
    assert int(limited.headers["x-ratelimit-reset"]) <= 61


def test_every_response_carries_a_request_id(gateway: Gateway) -> None:
    ids = {gateway.http.get("/api/v1/models").headers["x-request-id"] for _ in range(3)}
    assert len(ids) == 3
    assert all(i == REQUEST_ID for i in ids)


def test_webhook_url_to_a_private_address_is_rejected_and_creates_nothing(gateway: Gateway) -> None:
    key = gateway.key(credits=50)
    response = gateway.http.post(
        "/api/v1/generations",
        headers=key.headers,
        json={"model": "grok-imagine", "prompt": "x", "webhook_url": "https://127.0.0.1/hook"},
    )
    assert response.status_code == 400
    issue = "must not point at a private, loopback or reserved address"
    assert response.json() == error_body(
        "webhook_url_rejected", f"webhook_url: {issue}", [{"field": "webhook_url", "issue": issue}]
    )
    assert_nothing_changed(gateway, key, 50)
