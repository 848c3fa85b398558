"""The Dubrify dialect: its curl and Python examples, verbatim, on the shared /v1/videos."""

from __future__ import annotations

import time
from pathlib import Path

from tests.conftest import Gateway
from tests.dialects.seeds import poll_until, run_curl, seed_example, start_python, uploaded_image_url
from tests.matchers import TASK_ID, Matches, media_url


def dubrify(gateway: Gateway, secret: str) -> dict[str, str]:
    return {"https://api.dubrify.com": gateway.base_url, "YOUR_API_KEY": secret}


def test_seed_python_examples_run_verbatim_to_a_finished_video(gateway: Gateway, tmp_path: Path) -> None:
    key = gateway.key(credits=100)
    swap = dubrify(gateway, key.secret)
    (tmp_path / "dubrify_example.py").write_text(
        seed_example("dubrify_example.py.txt", swap), encoding="utf-8"
    )
    image = uploaded_image_url(gateway, key)
    # The image example is a fragment of the same page: it uses the full example's names.
    (tmp_path / "image_example.py").write_text(
        "from dubrify_example import *\n"
        + seed_example("dubrify_image_example.py.txt", {"https://example.com/landscape.jpg": image}),
        encoding="utf-8",
    )
    (tmp_path / "submit.py").write_text(seed_example("dubrify_submit.py.txt", swap), encoding="utf-8")

    started = time.monotonic()
    # Run side by side: each waits its seed-default 8 s between polls once.
    runs = [
        start_python(tmp_path / name, cwd=tmp_path)
        for name in ("dubrify_example.py", "image_example.py", "submit.py")
    ]
    outputs = [run.communicate(timeout=60) for run in runs]
    assert [run.returncode for run in runs] == [0, 0, 0], outputs
    assert time.monotonic() - started < 20

    text_out, image_out, submit_out = (out for out, _ in outputs)
    video = media_url(gateway.base_url, r"results/task_[A-Za-z0-9_-]{20}/0\.mp4")
    ready = Matches("Video ready: " + video.pattern.pattern)
    assert text_out.splitlines() == [
        Matches(r"Task submitted: task_[A-Za-z0-9_-]{20}"),
        " Status: pending (0s elapsed)",
        ready,
    ]
    assert image_out.splitlines() == [
        " Status: pending (0s elapsed)",
        ready,
    ]
    assert submit_out.splitlines() == [Matches(r"Task submitted, request_id: task_[A-Za-z0-9_-]{20}")]

    tasks = gateway.http.get("/api/v1/generations", headers=key.headers).json()["data"]
    by_prompt = {t["prompt"]: t for t in tasks}
    golden = by_prompt["A golden retriever running through autumn leaves in slow motion"]
    assert (golden["status"], golden["params"]) == (
        "succeeded",
        {"mode": "normal", "duration": 6, "resolution": "720p", "aspect_ratio": "16:9"},
    )
    pushed = by_prompt["Camera slowly pushes in, the scene comes alive"]
    assert (pushed["status"], pushed["params"]) == (
        "succeeded",
        {
            "mode": "normal",
            "duration": 8,
            "resolution": "720p",
            "aspect_ratio": "16:9",
            "referenceMediaItems": [{"url": image, "kind": "image"}],
        },
    )
    assert abs(pushed["result"]["media"][0]["duration_seconds"] - 8.0) < 0.3


def test_seed_curl_examples_create_and_poll_pending_then_the_video(gateway: Gateway) -> None:
    key = gateway.key(credits=100)
    swap = dubrify(gateway, key.secret)
    created = run_curl("dubrify_create.sh", swap)
    request_id = created["request_id"]
    assert created == {
        "id": request_id,
        "object": "video",
        "request_id": TASK_ID,
        "model": "grok-imagine-video",
        "status": "pending",
        "progress": 0,
        "created_at": created["created_at"],
        "completed_at": None,
        "expires_at": None,
        "prompt": "A cat playing in a sunlit garden with butterflies",
        "seconds": "6",
        "size": "1280x720",
        "remixed_from_video_id": None,
        "error": None,
    }
    polled = run_curl("dubrify_status.sh", {**swap, "grok_video_xxxxxxxxxxxxx": request_id})
    assert (polled["status"], "video" in polled) == ("pending", False)

    seen = poll_until(gateway, f"/v1/videos/{request_id}", key, done=lambda r: "video" in r.json())
    assert {r.json()["status"] for r in seen[:-1]} == {"pending"}
    done = run_curl("dubrify_status.sh", {**swap, "grok_video_xxxxxxxxxxxxx": request_id})
    assert done == {
        **created,
        "status": "completed",
        "progress": 100,
        "completed_at": done["completed_at"],
        "expires_at": done["expires_at"],
        "video": {
            "url": media_url(gateway.base_url, f"results/{request_id}/0\\.mp4"),
            "duration": "6",
            "respect_moderation": "true",
        },
    }

    image = uploaded_image_url(gateway, key)
    from_image = run_curl("dubrify_image_to_video.sh", {**swap, "https://example.com/your-image.jpg": image})
    assert (from_image["status"], from_image["seconds"], from_image["size"]) == ("pending", "6", "1280x720")
    native = gateway.wait_for(from_image["request_id"], key)
    assert native["status"] == "succeeded"
    assert native["params"]["referenceMediaItems"] == [{"url": image, "kind": "image"}]


def test_dubrify_errors_come_in_the_shared_openai_style_envelope(gateway: Gateway) -> None:
    key = gateway.key(credits=5)
    body = {"model": "grok-imagine-video", "prompt": "x", "duration": 6, "aspect_ratio": "21:9"}
    ratio = gateway.http.post("/v1/videos", headers=key.headers, json=body)
    assert ratio.status_code == 400
    assert ratio.json()["error"] | {"request_id": "-"} == {
        "message": "aspect_ratio: '21:9' is not one of the options; allowed: "
        "['16:9', '9:16', '1:1', '4:3', '3:4', '3:2', '2:3']",
        "type": "invalid_request_error",
        "param": "aspect_ratio",
        "code": "validation_failed",
        "details": [
            {
                "field": "aspect_ratio",
                "issue": "'21:9' is not one of the options",
                "allowed": ["16:9", "9:16", "1:1", "4:3", "3:4", "3:2", "2:3"],
            }
        ],
        "request_id": "-",
    }
    poor = gateway.http.post("/v1/videos", headers=key.headers, json={**body, "aspect_ratio": "4:3"})
    assert (poor.status_code, poor.json()["error"]["type"], poor.json()["error"]["code"]) == (
        402,
        "insufficient_quota",
        "insufficient_credits",
    )
    mixed = gateway.http.post("/v1/videos", headers=key.headers, json={**body, "seconds": "6"})
    assert (mixed.status_code, mixed.json()["error"]["message"]) == (
        400,
        "duration: give either seconds or duration, not both",
    )
