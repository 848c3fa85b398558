"""One core under every dialect: the same keys, credits and tasks, each rendered in the reader's shape."""

from __future__ import annotations

from tests.conftest import Gateway


def test_a_task_from_any_dialect_is_read_by_the_others_and_the_native_api(gateway: Gateway) -> None:
    key = gateway.key(credits=100)
    xai_id = gateway.http.post(
        "/v1/videos/generations",
        headers=key.headers,
        json={"model": "grok-imagine-video", "prompt": "from xai", "duration": 2},
    ).json()["request_id"]
    grok_id = gateway.http.post(
        "/v1/generate", headers=key.headers, json={"prompt": "from grokimagineapi"}
    ).json()["data"]["task_id"]
    openai_id = gateway.http.post(
        "/v1/videos", headers=key.headers, json={"prompt": "from openai", "seconds": "2"}
    ).json()["id"]
    native_id = gateway.http.post(
        "/api/v1/generations",
        headers=key.headers,
        json={"model": "grok-imagine-video", "prompt": "from native"},
    ).json()["id"]
    for task_id in (xai_id, grok_id, openai_id, native_id):
        assert gateway.wait_for(task_id, key)["status"] == "succeeded"

    listed = gateway.http.get("/v1/videos", headers=key.headers).json()
    assert [(v["id"], v["status"]) for v in listed["data"]] == [
        (native_id, "completed"),
        (openai_id, "completed"),
        (grok_id, "completed"),
        (xai_id, "completed"),
    ]
    status = gateway.http.get("/v1/status", params={"task_id": xai_id}, headers=key.headers).json()["data"]
    assert (status["status"], status["request"]) == (
        "completed",
        {"mode": "normal", "prompt": "from xai", "ratio": "16:9"},
    )
    # A task polled at /v1/videos/{id} answers in the shape of the client that created it.
    assert gateway.http.get(f"/v1/videos/{xai_id}", headers=key.headers).json()["status"] == "done"
    assert gateway.http.get(f"/v1/videos/{grok_id}", headers=key.headers).json()["status"] == "completed"
    native = gateway.http.get("/api/v1/generations", headers=key.headers).json()["data"]
    assert {t["id"] for t in native} == {xai_id, grok_id, openai_id, native_id}
    assert gateway.http.get("/api/v1/credits", headers=key.headers).json()["balance"] == 60

    other = gateway.key(credits=100)
    assert gateway.http.get(f"/v1/videos/{xai_id}", headers=other.headers).status_code == 404
    assert (
        gateway.http.get("/v1/status", params={"task_id": grok_id}, headers=other.headers).status_code == 404
    )
