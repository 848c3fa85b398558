"""The grokimagineapi.com dialect: its curl examples verbatim, its envelope and headers."""

from __future__ import annotations

from typing import Any

import httpx

from tests.conftest import Gateway
from tests.dialects.seeds import run_curl, uploaded_image_url
from tests.matchers import TASK_ID, Matches, media_url

SECOND_ISO = Matches(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ")
REQUEST_ID = Matches(r"req_[0-9a-f]{24}")


def test_seed_curl_examples_generate_and_report_pending_processing_completed(gateway: Gateway) -> None:
    key = gateway.key(credits=100)
    swap = {"https://grokimagineapi.com": gateway.base_url, "your-api-token": key.secret}
    created = run_curl("grokimagineapi_generate.sh", swap)
    assert created == {"code": 200, "message": "success", "data": {"task_id": TASK_ID}}
    task_id = created["data"]["task_id"]

    seen: list[Any] = []
    while not seen or seen[-1]["data"]["status"] not in ("completed", "failed"):
        seen.append(run_curl("grokimagineapi_status.sh", {**swap, "task_123456789": task_id}))
    words = [s["data"]["status"] for s in seen]
    assert words[-1] == "completed"
    assert set(words) <= {"pending", "processing", "completed"} and "processing" in words
    request = {"mode": "fun", "prompt": "a beautiful landscape with mountains", "ratio": "1:1"}
    assert seen[0] == {
        "code": 200,
        "message": "success",
        "data": {
            "consumed_credits": 10,
            "created_at": SECOND_ISO,
            "status": words[0],
            "task_id": task_id,
            "request": request,
            "response": [],
        },
    }
    assert seen[-1] == {
        "code": 200,
        "message": "success",
        "data": {
            "consumed_credits": 10,
            "created_at": SECOND_ISO,
            "status": "completed",
            "task_id": task_id,
            "request": request,
            "response": [media_url(gateway.base_url, f"results/{task_id}/0\\.mp4")],
        },
    }
    assert httpx.get(seen[-1]["data"]["response"][0]).headers["content-type"] == "video/mp4"

    native = gateway.http.get(f"/api/v1/generations/{task_id}", headers=key.headers).json()
    assert (native["params"], native["final_credits"]) == (
        {"mode": "fun", "duration": 6, "resolution": "480p", "aspect_ratio": "1:1"},
        10,
    )
    assert gateway.http.get("/api/v1/credits", headers=key.headers).json()["balance"] == 90


def test_images_become_the_reference_and_are_echoed_in_request(gateway: Gateway) -> None:
    key = gateway.key()
    image = uploaded_image_url(gateway, key)
    created = gateway.http.post(
        "/v1/generate",
        headers=key.headers,
        json={"mode": "normal", "prompt": "wind", "images": [image], "ratio": "2:3"},
    )
    task_id = created.json()["data"]["task_id"]
    assert gateway.wait_for(task_id, key)["status"] == "succeeded"
    data = gateway.http.get("/v1/status", params={"task_id": task_id}, headers=key.headers).json()["data"]
    assert data["request"] == {"mode": "normal", "prompt": "wind", "ratio": "2:3", "images": [image]}


def test_errors_use_the_seed_envelope_with_the_http_status(gateway: Gateway) -> None:
    key = gateway.key(credits=5)
    missing = gateway.http.post("/v1/generate", headers=key.headers, json={"mode": "fun", "ratio": "1:1"})
    assert (missing.status_code, missing.json()) == (
        400,
        {
            "code": 400,
            "message": "Invalid request: The prompt parameter is required",
            "error": "INVALID_REQUEST",
            "request_id": REQUEST_ID,
        },
    )
    ratio = gateway.http.post("/v1/generate", headers=key.headers, json={"prompt": "x", "ratio": "16:9"})
    assert ratio.json() == {
        "code": 400,
        "message": "Invalid request: ratio: '16:9' is not one of the options; allowed: ['2:3', '3:2', '1:1']",
        "error": "INVALID_REQUEST",
        "request_id": REQUEST_ID,
    }
    poor = gateway.http.post("/v1/generate", headers=key.headers, json={"prompt": "x"})
    assert (poor.status_code, poor.json()["code"], poor.json()["error"]) == (402, 402, "INSUFFICIENT_CREDITS")
    no_id = gateway.http.get("/v1/status", headers=key.headers)
    assert no_id.json()["message"] == "Invalid request: The task_id parameter is required"
    unknown = gateway.http.get("/v1/status", params={"task_id": "task_nope"}, headers=key.headers)
    assert (unknown.status_code, unknown.json()["error"]) == (404, "NOT_FOUND")
    stranger = httpx.post(
        f"{gateway.base_url}/v1/generate",
        json={"prompt": "x"},
        headers={"Authorization": "Bearer igw_sk_wrong"},
    )
    assert (stranger.status_code, stranger.json()) == (
        401,
        {
            "code": 401,
            "message": "The API key is not valid.",
            "error": "UNAUTHORIZED",
            "request_id": REQUEST_ID,
        },
    )


def test_every_response_carries_the_rate_limit_headers(gateway_factory) -> None:  # type: ignore[no-untyped-def]
    gateway = gateway_factory(rate_limit="3/minute")
    key = gateway.key()
    responses = [
        gateway.http.post("/v1/generate", headers=key.headers, json={"prompt": "x"}),
        gateway.http.get("/v1/status", headers=key.headers),
        gateway.http.get("/v1/status", params={"task_id": "task_nope"}, headers=key.headers),
        gateway.http.get("/v1/status", params={"task_id": "task_nope"}, headers=key.headers),
        httpx.get(f"{gateway.base_url}/v1/status?task_id=x"),
    ]
    remaining = [r.headers.get("x-ratelimit-remaining") for r in responses]
    assert remaining == ["2", "1", "0", "0", "3"]
    assert [r.status_code for r in responses] == [200, 400, 404, 429, 401]
    assert all(r.headers.get("x-ratelimit-reset", "").isdigit() for r in responses)
    assert responses[3].json()["error"] == "RATE_LIMIT_EXCEEDED"
