"""A generation on the sandbox engine, end to end over real HTTP and a real SQLite file."""

from __future__ import annotations

import io
import tempfile
from pathlib import Path

import av
import httpx
from PIL import Image

from tests.conftest import Gateway
from tests.matchers import ISO, TASK_ID, Matches, media_url


def test_video_task_goes_queued_processing_succeeded_and_serves_a_playable_mp4(gateway: Gateway) -> None:
    key = gateway.key(credits=100)
    created = gateway.http.post(
        "/api/v1/generations",
        headers=key.headers,
        json={
            "model": "grok-imagine-video",
            "prompt": "A cinematic product reveal",
            "params": {"duration": 6, "aspect_ratio": "16:9"},
            "client_request_id": "order-1",
        },
    )
    assert created.status_code == 202
    assert created.json() == {
        "id": TASK_ID,
        "object": "generation",
        "status": "queued",
        "model": "grok-imagine-video",
        "prompt": "A cinematic product reveal",
        "params": {"mode": "normal", "duration": 6, "resolution": "480p", "aspect_ratio": "16:9"},
        "client_request_id": "order-1",
        "progress": 0,
        "reserved_credits": 10,
        "final_credits": 0,
        "created_at": ISO,
        "updated_at": ISO,
        "completed_at": None,
        "result": None,
        "error": None,
        "billing": None,
    }
    task_id = created.json()["id"]

    seen = {gateway.wait_for(task_id, key, statuses=("processing", "succeeded"))["status"]}
    done = gateway.wait_for(task_id, key)
    seen.add(done["status"])
    assert seen == {"processing", "succeeded"}
    url = media_url(gateway.base_url, f"results/{task_id}/0\\.mp4")
    poster = media_url(gateway.base_url, f"results/{task_id}/0\\.poster\\.jpg")
    assert done == {
        **created.json(),
        "status": "succeeded",
        "progress": 100,
        "final_credits": 10,
        "updated_at": ISO,
        "completed_at": ISO,
        "billing": {"reserved": 10, "charged": 10, "released": 0, "reason": None},
        "result": {
            "primary_url": url,
            "urls": [url],
            "expired": False,
            "media": [
                {
                    "url": url,
                    "kind": "video",
                    "mime_type": "video/mp4",
                    "size_bytes": done["result"]["media"][0]["size_bytes"],
                    "sha256": Matches("[0-9a-f]{64}"),
                    "width": 848,
                    "height": 480,
                    "duration_seconds": done["result"]["media"][0]["duration_seconds"],
                    "poster_url": poster,
                }
            ],
        },
    }
    assert abs(done["result"]["media"][0]["duration_seconds"] - 6.0) < 0.3

    video = httpx.get(done["result"]["primary_url"])
    assert video.status_code == 200
    assert video.headers["content-type"] == "video/mp4"
    assert int(video.headers["content-length"]) == done["result"]["media"][0]["size_bytes"]
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "out.mp4"
        path.write_bytes(video.content)
        with av.open(str(path)) as container:
            stream = container.streams.video[0]
            assert (stream.codec_context.name, stream.width, stream.height) == ("h264", 848, 480)
            assert container.duration is not None
            assert abs(container.duration / 1_000_000 - 6.0) < 0.3

    credits = gateway.http.get("/api/v1/credits", headers=key.headers).json()
    assert credits == {
        "object": "credits",
        "account_id": key.account_id,
        "balance": 90,
        "reserved": 0,
        "available": 90,
    }


def test_image_task_produces_a_png_at_the_aspect_ratio_size(gateway: Gateway) -> None:
    key = gateway.key(credits=10)
    created = gateway.http.post(
        "/api/v1/generations",
        headers=key.headers,
        json={
            "model": "grok-imagine",
            "prompt": "A studio photo",
            "params": {"aspect_ratio": "16:9", "enable_pro": False},
        },
    ).json()
    assert created["params"] == {"aspect_ratio": "16:9", "enable_pro": "false"}
    assert created["reserved_credits"] == 4
    done = gateway.wait_for(created["id"], key)
    assert done["status"] == "succeeded"
    media = done["result"]["media"][0]
    assert (media["kind"], media["mime_type"], media["width"], media["height"], media["poster_url"]) == (
        "image",
        "image/png",
        1280,
        720,
        None,
    )
    image = Image.open(io.BytesIO(httpx.get(done["result"]["primary_url"]).content))
    assert (image.format, image.size) == ("PNG", (1280, 720))


def test_video_download_supports_http_range(gateway: Gateway) -> None:
    key = gateway.key()
    created = gateway.http.post(
        "/api/v1/generations",
        headers=key.headers,
        json={"model": "grok-imagine-video-1.5-preview", "prompt": "Waves", "params": {"duration": 2}},
    ).json()
    done = gateway.wait_for(created["id"], key)
    url = done["result"]["primary_url"]
    full = httpx.get(url).content
    part = httpx.get(url, headers={"Range": "bytes=10-19"})
    assert part.status_code == 206
    assert part.headers["content-range"] == f"bytes 10-19/{len(full)}"
    assert part.content == full[10:20]


def test_tampered_or_expired_media_signature_is_refused_in_the_envelope(gateway: Gateway) -> None:
    key = gateway.key()
    created = gateway.http.post(
        "/api/v1/generations", headers=key.headers, json={"model": "grok-imagine", "prompt": "x"}
    ).json()
    url = gateway.wait_for(created["id"], key)["result"]["primary_url"]
    forged = url.replace("sig=", "sig=A")
    response = httpx.get(forged)
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "signature_invalid"
    expired = httpx.get(url.split("?")[0] + "?exp=1000&" + url.split("&")[1])
    assert expired.status_code == 403


def test_a_task_can_be_canceled_while_queued_or_processing_and_credits_come_back_once(
    gateway_factory,
) -> None:  # type: ignore[no-untyped-def]
    gateway = gateway_factory(sandbox_latency_s=30)
    key = gateway.key(credits=10)
    created = gateway.http.post(
        "/api/v1/generations", headers=key.headers, json={"model": "grok-imagine-video", "prompt": "slow"}
    ).json()
    canceled = gateway.http.post(f"/api/v1/generations/{created['id']}/cancel", headers=key.headers)
    assert canceled.status_code == 200
    assert canceled.json()["status"] == "canceled"
    assert canceled.json()["error"] == {"code": "canceled", "message": "The task was canceled by the client."}
    again = gateway.http.post(f"/api/v1/generations/{created['id']}/cancel", headers=key.headers)
    assert again.status_code == 409
    assert again.json()["error"]["code"] == "task_state_conflict"
    assert gateway.http.get("/api/v1/credits", headers=key.headers).json()["balance"] == 10


def test_list_is_newest_first_with_cursor_and_filters(gateway: Gateway) -> None:
    key = gateway.key(credits=1000)
    ids = []
    for i in range(5):
        model = "grok-imagine" if i % 2 else "grok-imagine-video"
        ids.append(
            gateway.http.post(
                "/api/v1/generations", headers=key.headers, json={"model": model, "prompt": f"p{i}"}
            ).json()["id"]
        )
    first = gateway.http.get("/api/v1/generations", headers=key.headers, params={"limit": 2}).json()
    assert [t["id"] for t in first["data"]] == ids[::-1][:2]
    assert first["has_more"] is True
    rest = gateway.http.get(
        "/api/v1/generations", headers=key.headers, params={"limit": 10, "cursor": first["next_cursor"]}
    ).json()
    assert [t["id"] for t in rest["data"]] == ids[::-1][2:]
    assert (rest["has_more"], rest["next_cursor"]) == (False, None)
    images = gateway.http.get(
        "/api/v1/generations", headers=key.headers, params={"model": "grok-imagine"}
    ).json()
    assert [t["id"] for t in images["data"]] == [ids[3], ids[1]]
    other = gateway.key()
    assert gateway.http.get("/api/v1/generations", headers=other.headers).json()["data"] == []


def test_another_accounts_task_is_not_found(gateway: Gateway) -> None:
    owner, stranger = gateway.key(), gateway.key()
    task_id = gateway.http.post(
        "/api/v1/generations", headers=owner.headers, json={"model": "grok-imagine", "prompt": "mine"}
    ).json()["id"]
    response = gateway.http.get(f"/api/v1/generations/{task_id}", headers=stranger.headers)
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"


def test_models_are_public_and_derived_from_the_catalog(gateway: Gateway) -> None:
    body = gateway.http.get("/api/v1/models").json()
    assert [m["id"] for m in body["data"]] == [
        "grok-imagine",
        "grok-imagine-video",
        "grok-imagine-video-1.5",
        "grok-imagine-video-1.5-lite",
        "grok-imagine-image",
        "grok-imagine-image-2.0",
    ]
    video = body["data"][1]
    assert video["params"][1] == {
        "key": "duration",
        "type": "number",
        "required": False,
        "default": 6,
        "min": 6,
        "max": 30,
        "step": 1,
        "options": None,
        "description": "Duration in seconds",
    }
    assert (video["base_credits"], video["billing_type"], video["max_prompt_length"]) == (10, "FIXED", 5000)
    openapi = gateway.http.get("/api/v1/openapi.json").json()
    schema = openapi["components"]["schemas"]["GenerationCreate_grok_imagine_video"]
    assert schema["properties"]["params"]["properties"]["duration"]["minimum"] == 6
    assert schema["properties"]["params"]["properties"]["resolution"]["enum"] == ["480p", "720p"]
