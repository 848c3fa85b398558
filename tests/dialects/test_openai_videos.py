"""The OpenAI videos dialect, driven by the official ``openai`` package, unchanged."""

from __future__ import annotations

import base64
import io
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import av
import openai
import pytest
from openai import OpenAI
from PIL import Image

from tests.conftest import Gateway, Key
from tests.dialects.seeds import png_bytes
from tests.matchers import TASK_ID


@pytest.fixture
def client_and_key(gateway: Gateway) -> Iterator[tuple[OpenAI, Key]]:
    key = gateway.key(credits=1000)
    with OpenAI(base_url=f"{gateway.base_url}/v1", api_key=key.secret, max_retries=0) as client:
        yield client, key


def wait_completed(client: OpenAI, video_id: str) -> tuple[list[str], openai.types.Video]:
    statuses: list[str] = []
    deadline = time.monotonic() + 30
    while True:
        video = client.videos.retrieve(video_id)
        statuses.append(video.status)
        if video.status in ("completed", "failed"):
            return statuses, video
        assert time.monotonic() < deadline
        time.sleep(0.05)


def test_create_retrieve_download_with_the_openai_package(
    client_and_key: tuple[OpenAI, Key], gateway: Gateway
) -> None:
    client, key = client_and_key
    created = client.videos.create(
        model="grok-imagine-video", prompt="A paper boat on a river", seconds="4", size="1280x720"
    )
    assert created.to_dict() == {
        "id": TASK_ID,
        "object": "video",
        "request_id": created.id,
        "model": "grok-imagine-video",
        "status": "queued",
        "progress": 0,
        "created_at": created.created_at,
        "completed_at": None,
        "expires_at": None,
        "prompt": "A paper boat on a river",
        "seconds": "4",
        "size": "1280x720",
        "remixed_from_video_id": None,
        "error": None,
    }
    statuses, done = wait_completed(client, created.id)
    assert set(statuses) <= {"queued", "in_progress", "completed"}
    assert "in_progress" in statuses and statuses[-1] == "completed"
    assert done.progress == 100 and done.completed_at is not None and done.expires_at is not None
    assert done.expires_at > done.completed_at

    content = client.videos.download_content(created.id, variant="video")
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "video.mp4"
        content.write_to_file(path)
        with av.open(str(path)) as container:
            stream = container.streams.video[0]
            assert (stream.width, stream.height) == (1280, 720)
            assert container.duration is not None and abs(container.duration / 1e6 - 4.0) < 0.3
    thumbnail = client.videos.download_content(created.id, variant="thumbnail")
    assert Image.open(io.BytesIO(thumbnail.read())).format == "JPEG"

    native = gateway.http.get(f"/api/v1/generations/{created.id}", headers=key.headers).json()
    assert (native["status"], native["params"]) == (
        "succeeded",
        {"mode": "normal", "duration": 4, "resolution": "720p", "aspect_ratio": "16:9"},
    )


def test_multipart_input_reference_upload_guides_the_video(
    client_and_key: tuple[OpenAI, Key], gateway: Gateway
) -> None:
    client, key = client_and_key
    created = client.videos.create(
        prompt="Bring the picture to life",
        seconds="4",
        input_reference=("still.png", png_bytes(), "image/png"),
    )
    _, done = wait_completed(client, created.id)
    assert done.status == "completed", done.error
    native = gateway.http.get(f"/api/v1/generations/{created.id}", headers=key.headers).json()
    [reference] = native["params"]["referenceMediaItems"]
    assert reference["url"].startswith(f"{gateway.base_url}/media/uploads/file_")
    assert native["params"]["duration"] == 4


def test_list_pages_videos_only_and_images_generate_works(client_and_key: tuple[OpenAI, Key]) -> None:
    client, _ = client_and_key
    ids = [client.videos.create(prompt=f"clip {i}", seconds="4").id for i in range(3)]
    result = client.images.generate(
        model="grok-imagine-image",
        prompt="An image is not a video",
        n=1,
        response_format="b64_json",
        size="1024x1024",
    )
    [image] = result.data or []
    picture = Image.open(io.BytesIO(base64.b64decode(image.b64_json or "")))
    assert (picture.format, picture.size) == ("PNG", (1024, 1024))
    assert result.created > 0
    newest = client.videos.list(limit=2)
    assert [v.id for v in newest.data] == [ids[2], ids[1]]
    assert newest.has_more is True
    assert [v.id for v in newest.get_next_page().data] == [ids[0]]
    assert [v.id for v in client.videos.list(order="asc")] == ids


def test_delete_cancels_a_running_video_and_removes_a_finished_ones_content(
    client_and_key: tuple[OpenAI, Key], gateway: Gateway
) -> None:
    client, key = client_and_key
    running = client.videos.create(prompt="never mind", seconds="4")
    deleted = client.videos.delete(running.id)
    assert deleted.to_dict() == {"id": running.id, "object": "video.deleted", "deleted": True}
    assert client.videos.retrieve(running.id).status == "failed"
    assert (
        gateway.http.get(f"/api/v1/generations/{running.id}", headers=key.headers).json()["status"]
        == "canceled"
    )

    finished = client.videos.create(prompt="keep briefly", seconds="4")
    wait_completed(client, finished.id)
    assert client.videos.delete(finished.id).deleted is True
    with pytest.raises(openai.NotFoundError):
        client.videos.download_content(finished.id)
    assert gateway.http.get("/api/v1/credits", headers=key.headers).json()["balance"] == 1000 - 10


def test_errors_are_raised_by_the_package_from_the_openai_envelope(
    client_and_key: tuple[OpenAI, Key], gateway: Gateway
) -> None:
    client, _ = client_and_key
    with pytest.raises(openai.BadRequestError) as bad:
        client.videos.create(model="sora-2", prompt="x")
    assert bad.value.code == "validation_failed"
    assert bad.value.param == "model"
    assert "unknown video model 'sora-2'" in bad.value.message
    with pytest.raises(openai.BadRequestError) as size:
        client.videos.create(prompt="x", size="1024x1792")
    assert size.value.param == "size"
    stranger = OpenAI(base_url=f"{gateway.base_url}/v1", api_key="igw_sk_wrong", max_retries=0)
    with stranger, pytest.raises(openai.AuthenticationError) as denied:
        stranger.videos.list()
    assert denied.value.code == "api_key_invalid"
    with pytest.raises(openai.NotFoundError):
        client.videos.retrieve("task_doesnotexist00000000")
