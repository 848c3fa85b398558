"""The synchronous SDK against a live gateway on loopback."""

from __future__ import annotations

import hashlib
import time
from pathlib import Path

import pytest

from imagine_gateway import (
    AuthenticationError,
    Client,
    ConflictError,
    Credits,
    Generation,
    GenerationNotReadyError,
    InsufficientCreditsError,
    Model,
    NotFoundError,
    PermissionDeniedError,
    ValidationError,
    WaitTimeoutError,
)
from tests.client.conftest import Live
from tests.conftest import Gateway
from tests.matchers import REQUEST_ID

LIFECYCLE = ["queued", "processing", "succeeded"]


def test_models_are_listed_without_a_key_as_typed_models(shared_gateway: Gateway) -> None:
    with Client(base_url=shared_gateway.base_url, api_key=None) as client:
        models = client.models.list()
        video = client.models.retrieve("grok-imagine-video")
    raw = shared_gateway.http.get("/api/v1/models").json()["data"]
    assert models == [Model.model_validate(m) for m in raw]
    assert [m.id for m in models] == [
        "grok-imagine",
        "grok-imagine-video",
        "grok-imagine-video-1.5",
        "grok-imagine-video-1.5-lite",
        "grok-imagine-image",
        "grok-imagine-image-2.0",
    ]
    assert video == models[1]
    duration = next(p for p in video.params if p.key == "duration")
    assert (duration.type, duration.default, duration.min, duration.max) == ("number", 6, 6, 30)


def test_create_wait_and_download_a_video_following_the_event_stream(live: Live, tmp_path: Path) -> None:
    downloads = tmp_path / "downloads"
    downloads.mkdir()
    created = live.client.generations.create(
        "grok-imagine-video", "A paper boat", params={"duration": 6}, client_request_id="boat-1"
    )
    assert (created.status, created.model, created.reserved_credits, created.client_request_id) == (
        "queued",
        "grok-imagine-video",
        10,
        "boat-1",
    )
    seen: list[tuple[str, int]] = []
    done = live.client.generations.wait(created.id, on_progress=lambda g: seen.append((g.status, g.progress)))
    stored = Generation.model_validate(
        live.gateway.http.get(f"/api/v1/generations/{created.id}", headers=live.key.headers).json()
    )
    # Result URLs are signed afresh on every read; everything else is the stored task.
    assert done.model_dump(exclude={"result"}) == stored.model_dump(exclude={"result"})
    assert (done.status, done.progress, done.final_credits) == ("succeeded", 100, 10)
    statuses = [s for s, _ in seen]
    assert statuses == sorted(statuses, key=LIFECYCLE.index) and seen[-1] == ("succeeded", 100)

    path = live.client.generations.download(created.id, downloads)
    assert done.result is not None
    media = done.result.media[0]
    assert path == downloads / f"{created.id}.mp4"
    assert (path.stat().st_size, hashlib.sha256(path.read_bytes()).hexdigest()) == (
        media.size_bytes,
        media.sha256,
    )
    assert list(downloads.iterdir()) == [path]  # no partial file left behind


def test_wait_polls_when_told_not_to_use_events(live: Live, tmp_path: Path) -> None:
    created = live.client.generations.create("grok-imagine", "A lighthouse", params={"aspect_ratio": "16:9"})
    done = live.client.generations.wait(created.id, use_events=False, timeout_s=30)
    assert (done.id, done.status, done.params) == (
        created.id,
        "succeeded",
        {"aspect_ratio": "16:9", "enable_pro": "false"},
    )
    target = tmp_path / "lighthouse.png"
    assert live.client.generations.download(created.id, target) == target
    assert target.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_list_walks_every_page_newest_first_with_filters(live: Live) -> None:
    ids = [live.client.generations.create("grok-imagine", f"Tile {i}").id for i in range(5)]
    for task_id in ids:
        live.client.generations.wait(task_id, timeout_s=30)
    assert [g.id for g in live.client.generations.list(page_size=2)] == ids[::-1]
    assert [g.id for g in live.client.generations.list(status="succeeded", model="grok-imagine")] == ids[::-1]
    assert list(live.client.generations.list(status="failed")) == []


def test_cancel_returns_the_canceled_task_and_gives_the_credits_back(slow_live: Live) -> None:
    client = slow_live.client
    created = client.generations.create("grok-imagine-video", "A slow dawn")
    assert client.credits.retrieve().balance == 990
    canceled = client.generations.cancel(created.id)
    assert (canceled.id, canceled.status, canceled.final_credits) == (created.id, "canceled", 0)
    assert client.credits.retrieve() == Credits(
        account_id=slow_live.key.account_id, balance=1000, reserved=0, available=1000
    )
    with pytest.raises(GenerationNotReadyError, match="is canceled"):
        client.generations.download(created.id, ".")
    with pytest.raises(ConflictError) as conflict:
        client.generations.cancel(created.id)
    assert (conflict.value.code, conflict.value.status_code) == ("task_state_conflict", 409)


def test_wait_gives_up_after_its_timeout_with_the_last_state_seen(slow_live: Live) -> None:
    created = slow_live.client.generations.create("grok-imagine", "Never in time")
    started = time.monotonic()
    with pytest.raises(WaitTimeoutError) as timed_out:
        slow_live.client.generations.wait(created.id, timeout_s=0.5)
    assert time.monotonic() - started < 3
    assert (timed_out.value.generation.id, timed_out.value.generation.status) == (created.id, "processing")
    with pytest.raises(WaitTimeoutError):
        slow_live.client.generations.wait(created.id, timeout_s=0.3, use_events=False)


def test_an_unknown_key_raises_authentication_error_with_code_message_request_id(
    shared_gateway: Gateway,
) -> None:
    with (
        Client(base_url=shared_gateway.base_url, api_key="igw_sk_nope") as client,
        pytest.raises(AuthenticationError) as caught,
    ):
        client.credits.retrieve()
    error = caught.value
    assert (error.code, error.message, error.status_code, error.request_id) == (
        "api_key_invalid",
        "The API key is not valid.",
        401,
        REQUEST_ID,
    )
    assert str(error) == "api_key_invalid: The API key is not valid."


def test_a_bad_parameter_raises_validation_error_with_the_field_details(live: Live) -> None:
    with pytest.raises(ValidationError) as caught:
        live.client.generations.create("grok-imagine", "x", params={"aspect_ratio": "5:4"})
    assert (caught.value.code, caught.value.status_code) == ("validation_failed", 400)
    assert [d["field"] for d in caught.value.details] == ["params.aspect_ratio"]


def test_too_few_credits_raise_insufficient_credits_and_create_nothing(shared_gateway: Gateway) -> None:
    key = shared_gateway.key(credits=3)
    with Client(base_url=shared_gateway.base_url, api_key=key.secret) as client:
        with pytest.raises(InsufficientCreditsError) as caught:
            client.generations.create("grok-imagine", "Too dear")
        assert (caught.value.code, caught.value.status_code) == ("insufficient_credits", 402)
        assert list(client.generations.list()) == []


def test_a_missing_scope_raises_permission_denied(shared_gateway: Gateway) -> None:
    key = shared_gateway.key(scopes=["generations:read"])
    with (
        Client(base_url=shared_gateway.base_url, api_key=key.secret) as client,
        pytest.raises(PermissionDeniedError) as caught,
    ):
        client.generations.create("grok-imagine", "Not allowed")
    assert (caught.value.code, caught.value.message) == (
        "api_scope_denied",
        "This API key lacks the scope 'generations:create'.",
    )


def test_an_unknown_task_raises_not_found(live: Live) -> None:
    with pytest.raises(NotFoundError) as caught:
        live.client.generations.retrieve("task_doesnotexist0000000")
    assert (caught.value.code, caught.value.status_code) == ("not_found", 404)


def test_an_explicit_idempotency_key_replays_the_task_and_rejects_another_body(live: Live) -> None:
    first = live.client.generations.create("grok-imagine", "Once", idempotency_key="order-7")
    again = live.client.generations.create("grok-imagine", "Once", idempotency_key="order-7")
    assert again.id == first.id
    with pytest.raises(ConflictError) as caught:
        live.client.generations.create("grok-imagine", "Twice", idempotency_key="order-7")
    assert caught.value.code == "idempotency_conflict"
    assert [g.id for g in live.client.generations.list()] == [first.id]


def test_the_environment_supplies_base_url_and_key(live: Live, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("IMAGINE_BASE_URL", live.gateway.base_url)
    monkeypatch.setenv("IMAGINE_API_KEY", live.key.secret)
    with Client() as client:
        assert (client.base_url, client.credits.retrieve().account_id) == (
            live.gateway.base_url,
            live.key.account_id,
        )


def test_files_upload_is_typed_and_usable_as_a_reference(live: Live, png: Path) -> None:
    uploaded = live.client.files.upload(png, model="grok-imagine")
    assert (uploaded.kind, uploaded.name, uploaded.mime_type, uploaded.width, uploaded.height) == (
        "image",
        "reference.png",
        "image/png",
        64,
        48,
    )
    assert uploaded.sha256 == hashlib.sha256(png.read_bytes()).hexdigest()
    fetched = live.client.files.retrieve(uploaded.id)
    assert fetched.model_dump(exclude={"url"}) == uploaded.model_dump(exclude={"url"})
    task = live.client.generations.create(
        "grok-imagine", "Like this", params={"referenceMediaItems": [uploaded.as_reference()]}
    )
    assert live.client.generations.wait(task.id, timeout_s=30).status == "succeeded"


def test_a_closed_client_refuses_to_send(shared_gateway: Gateway) -> None:
    client = Client(base_url=shared_gateway.base_url)
    client.close()
    assert client.is_closed
    with pytest.raises(RuntimeError, match="closed"):
        client.models.list()
