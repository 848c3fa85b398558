"""The xAI dialect (xAI's REST shape, also the relays'): videos, images, their rules and error envelope."""

from __future__ import annotations

import base64
import io
import re

import httpx
from PIL import Image

from tests.conftest import Gateway
from tests.dialects.seeds import SEED_EXAMPLES, poll_until, uploaded_image_url
from tests.matchers import TASK_ID, Matches, media_url

REQUEST_ID = Matches(r"req_[0-9a-f]{24}")


def seed003_body() -> str:
    """Seed 003's example as its client (Apifox) sends it: comment lines and the dangling comma dropped."""
    text = (SEED_EXAMPLES / "seed003_request.jsonc").read_text(encoding="utf-8")
    lines = [line for line in text.splitlines() if not line.strip().startswith("//")]
    return re.sub(r",(\s*)}$", r"\1}", "\n".join(lines))


def test_seed_003_example_runs_with_curl_and_polls_pending_202_then_done(gateway: Gateway, tmp_path) -> None:  # type: ignore[no-untyped-def]
    key = gateway.key(credits=100)
    body_file = tmp_path / "body.json"
    body_file.write_text(seed003_body())
    import subprocess

    created = subprocess.run(
        [
            "curl",
            "-sS",
            "-X",
            "POST",
            f"{gateway.base_url}/v1/videos/generations",
            "-H",
            f"Authorization: Bearer {key.secret}",
            "-H",
            "Content-Type: application/json",
            "-d",
            f"@{body_file}",
        ],
        capture_output=True,
        text=True,
        check=True,
        timeout=30,
    )
    import json

    request_id = json.loads(created.stdout)["request_id"]
    assert json.loads(created.stdout) == {"request_id": TASK_ID}

    seen = poll_until(gateway, f"/v1/videos/{request_id}", key, done=lambda r: r.status_code == 200)
    pending = [r for r in seen if r.status_code == 202]
    assert pending, "the first poll comes before the 0.3 s sandbox latency is over"
    for response in pending:
        assert response.json() == {"status": "pending", "progress": response.json()["progress"]}
        assert 0 <= response.json()["progress"] <= 99
    url = media_url(gateway.base_url, f"results/{request_id}/0\\.mp4")
    assert seen[-1].json() == {
        "status": "done",
        "video": {"url": url, "duration": 4, "respect_moderation": True},
        "model": "grok-imagine-video",
        "progress": 100,
    }
    native = gateway.http.get(f"/api/v1/generations/{request_id}", headers=key.headers).json()
    assert (native["status"], native["params"], native["final_credits"]) == (
        "succeeded",
        {"mode": "normal", "duration": 4, "resolution": "480p", "aspect_ratio": "16:9"},
        10,
    )
    assert abs(native["result"]["media"][0]["duration_seconds"] - 4.0) < 0.3
    assert httpx.get(seen[-1].json()["video"]["url"]).headers["content-type"] == "video/mp4"


def test_xai_defaults_and_the_seconds_and_input_reference_aliases(gateway: Gateway) -> None:
    key = gateway.key(credits=100)
    image = uploaded_image_url(gateway, key)
    created = gateway.http.post(
        "/v1/videos/generations",
        headers=key.headers,
        json={
            "model": "grok-imagine-video",
            "prompt": "The lake comes alive",
            "seconds": "3",
            "input_reference": {"url": image},
        },
    )
    assert created.status_code == 200, created.text
    task_id = created.json()["request_id"]
    native = gateway.wait_for(task_id, key)
    assert native["status"] == "succeeded", native
    assert native["params"] == {
        "mode": "normal",
        "duration": 3,
        "resolution": "480p",
        "aspect_ratio": "16:9",
        "referenceMediaItems": [{"url": image, "kind": "image"}],
    }
    assert (native["result"]["media"][0]["width"], native["result"]["media"][0]["height"]) == (848, 480)
    default = gateway.http.post(
        "/v1/videos/generations",
        headers=key.headers,
        json={"model": "grok-imagine-video", "prompt": "defaults"},
    ).json()
    params = gateway.http.get(f"/api/v1/generations/{default['request_id']}", headers=key.headers).json()[
        "params"
    ]
    assert params == {"mode": "normal", "duration": 8, "resolution": "480p", "aspect_ratio": "16:9"}


def xai_error(
    message: str | Matches,
    code: str,
    param: str | None,
    kind: str = "invalid_request_error",
    details: list[dict[str, object]] | None = None,
) -> dict[str, object]:
    error: dict[str, object] = {"message": message, "type": kind, "param": param, "code": code}
    if details is not None:
        error["details"] = details
    error["request_id"] = REQUEST_ID
    return {"error": error}


def test_seed_003_rules_are_enforced_in_the_openai_style_envelope(gateway: Gateway) -> None:
    key = gateway.key(credits=100)
    base = {
        "model": "grok-imagine-video",
        "prompt": "x",
        "duration": 5,
        "aspect_ratio": "16:9",
        "resolution": "480p",
    }

    def post(body: dict[str, object]) -> httpx.Response:
        return gateway.http.post("/v1/videos/generations", headers=key.headers, json=body)

    both = post(
        {
            **base,
            "image": {"url": "https://example.com/a.png"},
            "reference_images": [{"url": "https://example.com/b.png"}],
        }
    )
    combos = {
        "text-to-video": [],
        "image-to-video": ["image"],
        "reference-to-video": ["reference_images"],
        "video-edit": ["video"],
        "video-extension": ["video"],
    }
    assert both.status_code == 400
    assert both.json() == xai_error(
        f"reference_images: cannot be combined with image on grok-imagine-video; allowed: {combos}",
        "failed_precondition",
        "reference_images",
        details=[
            {
                "field": "reference_images",
                "issue": "cannot be combined with image on grok-imagine-video",
                "allowed": combos,
            }
        ],
    )
    for missing in ("model", "prompt"):
        response = post({k: v for k, v in base.items() if k != missing})
        assert response.status_code == 400
        assert response.json()["error"]["param"] == missing
        assert response.json()["error"]["message"].startswith(f"{missing}: is required")
        assert response.json()["error"]["code"] == "invalid_argument"
    too_long = post({**base, "duration": 16})
    assert (too_long.status_code, too_long.json()["error"]["code"], too_long.json()["error"]["message"]) == (
        400,
        "invalid_argument",
        "duration: 16 is outside 1..15; allowed: {'min': 1, 'max': 15}",
    )
    # xAI caps its classic model at 720p: refused before anything is reserved or sent.
    unserved = post({**base, "resolution": "1080p"})
    issue = "'1080p' is not served by grok-imagine-video for text-to-video (serves 480p, 720p)"
    assert (unserved.status_code, unserved.json()) == (
        400,
        xai_error(
            f"resolution: {issue}; allowed: ['480p', '720p']",
            "failed_precondition",
            "resolution",
            details=[{"field": "resolution", "issue": issue, "allowed": ["480p", "720p"]}],
        ),
    )
    no_key = httpx.post(f"{gateway.base_url}/v1/videos/generations", json=base)
    assert (no_key.status_code, no_key.json()) == (
        401,
        xai_error("A valid Bearer API key is required.", "api_key_missing", None, "authentication_error"),
    )
    unknown = gateway.http.get("/v1/videos/task_doesnotexist00000000", headers=key.headers)
    assert (unknown.status_code, unknown.json()) == (
        404,
        xai_error("Task task_doesnotexist00000000 was not found.", "not_found", None),
    )
    # Edits and extensions are the classic model's alone, as at xAI.
    for path, mode in (("edits", "video-edit"), ("extensions", "video-extension")):
        response = gateway.http.post(
            f"/v1/videos/{path}",
            headers=key.headers,
            json={
                "model": "grok-imagine-video-1.5",
                "prompt": "x",
                "video": {"url": "https://example.com/v.mp4"},
            },
        )
        issue = f"grok-imagine-video-1.5 does not support {mode}"
        assert (response.status_code, response.json()) == (
            400,
            xai_error(
                f"model: {issue}; allowed: ['grok-imagine-video']",
                "failed_precondition",
                "model",
                details=[{"field": "model", "issue": issue, "allowed": ["grok-imagine-video"]}],
            ),
        )
    assert gateway.http.get("/api/v1/credits", headers=key.headers).json()["balance"] == 100


def test_image_generation_waits_for_the_task_and_answers_urls_or_base64(gateway: Gateway) -> None:
    key = gateway.key(credits=100)
    as_url = gateway.http.post(
        "/v1/images/generations",
        headers=key.headers,
        json={"model": "grok-imagine-image", "prompt": "A studio photo", "aspect_ratio": "16:9"},
    )
    assert as_url.status_code == 200
    body = as_url.json()
    assert body == {
        "created": body["created"],
        "data": [
            {
                "url": media_url(gateway.base_url, r"results/task_[A-Za-z0-9_-]{20}/0\.png"),
                "mime_type": "image/png",
            }
        ],
    }
    assert Image.open(io.BytesIO(httpx.get(body["data"][0]["url"]).content)).size == (1280, 720)

    as_b64 = gateway.http.post(
        "/v1/images/generations",
        headers=key.headers,
        json={"prompt": "Two of them", "n": 2, "response_format": "b64_json"},
    )
    assert as_b64.status_code == 200
    images = as_b64.json()["data"]
    assert [sorted(item) for item in images] == [["b64_json", "mime_type"]] * 2
    for item in images:
        picture = Image.open(io.BytesIO(base64.b64decode(item["b64_json"])))
        assert (picture.format, picture.size) == ("PNG", (1024, 1024))
    assert gateway.http.get("/api/v1/credits", headers=key.headers).json()["balance"] == 100 - 3 * 4


def test_deferred_image_is_polled_at_images_request_id(gateway: Gateway) -> None:
    key = gateway.key()
    created = gateway.http.post(
        "/v1/images/generations", headers=key.headers, json={"prompt": "later", "deferred": True}
    )
    assert created.json() == {"request_id": TASK_ID}
    request_id = created.json()["request_id"]
    seen = poll_until(gateway, f"/v1/images/{request_id}", key, done=lambda r: r.status_code == 200)
    assert seen[0].status_code == 202
    assert seen[0].json() == {"request_id": request_id, "status": "pending"}
    assert seen[-1].json() == {
        "request_id": request_id,
        "status": "done",
        "data": [
            {"url": media_url(gateway.base_url, f"results/{request_id}/0\\.png"), "mime_type": "image/png"}
        ],
    }
    video_path = gateway.http.get(f"/v1/videos/{request_id}", headers=key.headers)
    assert video_path.status_code == 404


def test_image_edit_uses_an_uploaded_reference(gateway: Gateway) -> None:
    key = gateway.key()
    image = uploaded_image_url(gateway, key)
    edited = gateway.http.post(
        "/v1/images/edits", headers=key.headers, json={"prompt": "Make it dusk", "image": {"url": image}}
    )
    assert edited.status_code == 200, edited.text
    two = gateway.http.post(
        "/v1/images/edits",
        headers=key.headers,
        json={"prompt": "Blend", "images": [{"url": image}, {"url": image}]},
    )
    assert two.status_code == 200, two.text
    four = gateway.http.post(
        "/v1/images/edits",
        headers=key.headers,
        json={"prompt": "Blend", "images": [{"url": image}] * 4},
    )
    assert (four.status_code, four.json()["error"]["message"]) == (
        400,
        "images: must be an array of 1 to 3 images; allowed: {'max_items': 3}",
    )
