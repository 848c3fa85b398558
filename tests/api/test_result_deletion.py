"""Deleting a finished task's result: the files go first, then the task is marked expired."""

from __future__ import annotations

import shutil

from tests.conftest import Gateway, Key


def _finished_video(gateway: Gateway, key: Key) -> str:
    created = gateway.http.post(
        "/v1/videos", headers=key.headers, json={"model": "grok-imagine-video", "prompt": "x", "seconds": "4"}
    )
    assert created.status_code == 200, created.text
    task_id: str = created.json()["id"]
    assert gateway.wait_for(task_id, key)["status"] == "succeeded"
    return task_id


def _blobs(gateway: Gateway, task_id: str) -> list[str]:
    folder = gateway.settings.home / "media" / "results" / task_id
    return sorted(p.name for p in folder.iterdir()) if folder.exists() else []


def test_deleting_a_finished_video_removes_its_files_and_marks_it_expired(gateway: Gateway) -> None:
    key = gateway.key(credits=100)
    task_id = _finished_video(gateway, key)
    assert _blobs(gateway, task_id) == ["0.mp4", "0.poster.jpg"]

    deleted = gateway.http.delete(f"/v1/videos/{task_id}", headers=key.headers)

    assert (deleted.status_code, deleted.json()) == (
        200,
        {"id": task_id, "object": "video.deleted", "deleted": True},
    )
    assert _blobs(gateway, task_id) == []
    task = gateway.http.get(f"/api/v1/generations/{task_id}", headers=key.headers).json()
    assert (task["status"], task["result"]["expired"]) == ("succeeded", True)


def test_a_deletion_whose_file_removal_fails_keeps_the_result_for_a_retry(gateway: Gateway) -> None:
    key = gateway.key(credits=100)
    task_id = _finished_video(gateway, key)
    # A fault the storage cannot get past: the video's metadata file became a non-empty folder.
    meta = gateway.settings.home / "media" / ".meta" / "results" / task_id / "0.mp4.json"
    meta.unlink()
    meta.mkdir()
    (meta / "in-the-way").write_bytes(b"")

    # The server drops the connection after a 500: keep it off the client's pool.
    failed = gateway.http.delete(f"/v1/videos/{task_id}", headers={**key.headers, "Connection": "close"})

    assert failed.status_code == 500
    error = failed.json()["error"]
    assert error == {
        "message": "An internal error occurred.",
        "type": "server_error",
        "param": None,
        "code": "internal_error",
        "request_id": error["request_id"],
    }
    assert _blobs(gateway, task_id) == ["0.mp4", "0.poster.jpg"]
    task = gateway.http.get(f"/api/v1/generations/{task_id}", headers=key.headers).json()
    assert (task["status"], task["result"]["expired"]) == ("succeeded", False)

    shutil.rmtree(meta)
    retried = gateway.http.delete(f"/v1/videos/{task_id}", headers=key.headers)

    assert (retried.status_code, retried.json()["deleted"]) == (200, True)
    assert _blobs(gateway, task_id) == []
    task = gateway.http.get(f"/api/v1/generations/{task_id}", headers=key.headers).json()
    assert task["result"]["expired"] is True
