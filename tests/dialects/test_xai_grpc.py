"""xAI's gRPC API: the official ``xai-sdk``, unmodified, pointed at the gateway (sync and async clients).

Videos and images on the sandbox engine (through the xai provider against the xAI mock:
tests/providers/test_xai_grpc_end_to_end.py); errors as the gRPC statuses the SDK raises; credits,
tasks and media URLs the same as over REST.
"""

from __future__ import annotations

import asyncio
import datetime
import os
import signal
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import grpc
import httpx
import pytest
import xai_sdk
from xai_sdk.proto import deferred_pb2
from xai_sdk.video import VideoGenerationError

from imagine_gateway.media.probe import probe_file
from tests.conftest import Gateway, Key, create_key, make_settings
from tests.matchers import TASK_ID, Matches, media_url
from tests.runtime.test_processes import free_port, imagine, stopped

VIDEO_MODEL = "grok-imagine-video"
FAST_POLL = datetime.timedelta(seconds=0.1)
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
RESULT_VIDEO = r"results/task_[A-Za-z0-9_-]{20}/0\.mp4"
RESULT_IMAGE = r"results/task_[A-Za-z0-9_-]{20}/\d\.png"


def grpc_gateway(gateway_factory: Callable[..., Gateway], **settings: Any) -> Gateway:
    return gateway_factory(grpc_port=0, **settings)


def address(gateway: Gateway) -> str:
    found: str = gateway.server.app.state.grpc.address  # type: ignore[union-attr]
    return found


def sdk(gateway: Gateway, secret: str, **options: Any) -> xai_sdk.Client:
    """The official client as a team configures it for the gateway: key, host, insecure channel."""
    return xai_sdk.Client(api_key=secret, api_host=address(gateway), use_insecure_channel=True, **options)


def balance(gateway: Gateway, key: Key) -> int:
    value: int = gateway.http.get("/api/v1/credits", headers=key.headers).json()["balance"]
    return value


def tasks_of(gateway: Gateway, key: Key) -> list[dict[str, Any]]:
    data: list[dict[str, Any]] = gateway.http.get("/api/v1/generations", headers=key.headers).json()["data"]
    return data


def rpc_error(call: Callable[[], Any]) -> grpc.RpcError:
    with pytest.raises(grpc.RpcError) as caught:
        call()
    return caught.value


def described(error: Any) -> tuple[grpc.StatusCode, str, dict[str, str]]:
    """An RPC error as (status, details, trailing metadata by key)."""
    return error.code(), error.details(), dict(error.trailing_metadata() or ())


def test_sdk_generates_a_playable_video_on_the_sandbox_engine_and_credits_move_as_over_rest(
    gateway_factory: Callable[..., Gateway], tmp_path: Path
) -> None:
    gateway = grpc_gateway(gateway_factory)
    key = gateway.key(credits=100)

    with sdk(gateway, key.secret) as client:
        video = client.video.generate(
            prompt="A red fox in the snow", model="grok-imagine-video", duration=6, interval=FAST_POLL
        )

    assert video.url == media_url(gateway.base_url, RESULT_VIDEO)
    assert (video.duration, video.model, video.respect_moderation) == (6, "grok-imagine-video", True)
    assert video.cost_usd == pytest.approx(0.05)  # 10 credits at 0.005 USD
    downloaded = httpx.get(video.url)
    assert (downloaded.status_code, downloaded.headers["content-type"]) == (200, "video/mp4")
    (tmp_path / "fox.mp4").write_bytes(downloaded.content)
    probed = probe_file(tmp_path / "fox.mp4")
    assert probed.mime_type == "video/mp4" and probed.duration_s == pytest.approx(6.0, abs=0.3)

    # The task is the native API's task: same account, price, result.
    [task] = tasks_of(gateway, key)
    assert (task["status"], task["model"], task["prompt"], task["final_credits"]) == (
        "succeeded",
        "grok-imagine-video",
        "A red fox in the snow",
        10,
    )
    assert task["params"] == {"mode": "normal", "duration": 6, "resolution": "480p", "aspect_ratio": "16:9"}
    assert video.url.split("?")[0] == task["result"]["primary_url"].split("?")[0]
    after_grpc = balance(gateway, key)

    # The same request over REST costs the same.
    created = gateway.http.post(
        "/v1/videos/generations",
        headers=key.headers,
        json={"model": "grok-imagine-video", "prompt": "A red fox in the snow", "duration": 6},
    )
    assert gateway.wait_for(created.json()["request_id"], key)["final_credits"] == 10
    assert (after_grpc, balance(gateway, key)) == (90, 80)


def test_async_client_starts_a_video_and_polls_the_deferred_status_with_progress(
    gateway_factory: Callable[..., Gateway],
) -> None:
    gateway = grpc_gateway(gateway_factory, sandbox_latency_s=1.0)
    key = gateway.key(credits=100)

    async def run() -> tuple[str, list[Any]]:
        client = xai_sdk.AsyncClient(api_key=key.secret, api_host=address(gateway), use_insecure_channel=True)
        started = await client.video.start(prompt="Waves at night", model="grok-imagine-video", duration=4)
        seen = []
        while True:
            got = await client.video.get(started.request_id)
            seen.append(got)
            if got.status != deferred_pb2.PENDING:
                return started.request_id, seen
            await asyncio.sleep(0.05)

    request_id, seen = asyncio.run(run())

    assert request_id == TASK_ID
    pending, done = seen[:-1], seen[-1]
    assert pending, "the first read comes before the 1 s sandbox latency is over"
    for reply in pending:
        assert reply.status == deferred_pb2.PENDING
        assert reply.response.model == "grok-imagine-video" and 0 <= reply.response.progress <= 99
    assert [r.response.progress for r in pending] == sorted(r.response.progress for r in pending)
    assert done.status == deferred_pb2.DONE
    assert (done.response.model, done.response.progress) == ("grok-imagine-video", 100)
    assert (done.response.video.duration, done.response.video.respect_moderation) == (4, True)
    assert done.response.video.url == media_url(gateway.base_url, f"results/{request_id}/0\\.mp4")
    assert done.response.usage.cost_in_usd_ticks == 10 * 5 * 10**7  # 10 credits, 0.005 USD each
    native = gateway.http.get(f"/api/v1/generations/{request_id}", headers=key.headers).json()
    assert (native["status"], native["final_credits"]) == ("succeeded", 10)
    # xAI's REST poll of the same task answers the same.
    rest = gateway.http.get(f"/v1/videos/{request_id}", headers=key.headers).json()
    assert (rest["status"], rest["video"]["duration"]) == ("done", 4)


def test_sdk_samples_a_png_and_a_batch_in_base64_charged_per_image(
    gateway_factory: Callable[..., Gateway],
) -> None:
    gateway = grpc_gateway(gateway_factory)
    key = gateway.key(credits=100)

    with sdk(gateway, key.secret) as client:
        image = client.image.sample(prompt="A studio photo of a teapot", model="grok-imagine-image")
        batch = client.image.sample_batch(
            prompt="A teapot", model="grok-imagine-image", n=2, image_format="base64", aspect_ratio="16:9"
        )

    assert image.url == media_url(gateway.base_url, RESULT_IMAGE)
    assert image.image.startswith(PNG_SIGNATURE)  # the SDK downloads the signed URL itself
    assert (image.model, image.respect_moderation, image.cost_usd) == ("grok-imagine-image", True, 0.02)
    assert len(batch) == 2
    for item in batch:
        assert item.base64 == Matches(r"data:image/png;base64,[A-Za-z0-9+/=]+")
        assert item.image.startswith(PNG_SIGNATURE)
        assert item.cost_usd == pytest.approx(0.04)  # the call's cost: two images of 4 credits
    tasks = tasks_of(gateway, key)
    assert [(t["model"], t["final_credits"], len(t["result"]["media"])) for t in tasks] == [
        ("grok-imagine-image", 8, 2),
        ("grok-imagine-image", 4, 1),
    ]
    assert tasks[0]["params"]["aspect_ratio"] == "16:9"
    assert balance(gateway, key) == 100 - 4 - 8


def test_a_failed_video_raises_the_sdks_generation_error_refunded_and_a_removed_one_reads_expired(
    gateway_factory: Callable[..., Gateway],
) -> None:
    gateway = grpc_gateway(gateway_factory, sandbox_failure_rate=1.0)
    key = gateway.key(credits=100)

    with sdk(gateway, key.secret) as client, pytest.raises(VideoGenerationError) as failed:
        client.video.generate(prompt="A fox", model=VIDEO_MODEL, duration=2, interval=FAST_POLL)

    assert (failed.value.code, failed.value.message) == (
        "generation_failed",
        "The sandbox engine simulated a failure (IMAGINE_SANDBOX_FAILURE_RATE).",
    )
    [task] = tasks_of(gateway, key)
    assert (task["status"], task["final_credits"], balance(gateway, key)) == ("failed", 0, 100)

    working = grpc_gateway(gateway_factory, home=gateway.settings.home.parent / "other")
    other = working.key(credits=100)
    with sdk(working, other.secret) as client:
        started = client.video.start(prompt="A fox", model=VIDEO_MODEL, duration=2)
        working.wait_for(started.request_id, other)
        done = client.video.get(started.request_id)
        removed = working.http.delete(f"/v1/videos/{started.request_id}", headers=other.headers)
        expired = client.video.get(started.request_id)

    assert (done.status, removed.status_code) == (deferred_pb2.DONE, 200)
    assert (expired.status, expired.HasField("response")) == (deferred_pb2.EXPIRED, False)
    assert balance(working, other) == 90  # removing the files refunds nothing


def test_a_wrong_key_an_out_of_range_duration_and_an_empty_balance_raise_the_sdks_errors(
    gateway_factory: Callable[..., Gateway],
) -> None:
    gateway = grpc_gateway(gateway_factory)
    key = gateway.key(credits=100)
    broke = gateway.key(credits=0, name="broke")

    with sdk(gateway, "igw_sk_not-a-key") as client:
        wrong_key = described(
            rpc_error(lambda: client.video.generate(prompt="x", model="grok-imagine-video"))
        )
    with sdk(gateway, key.secret) as client:
        too_long = described(
            rpc_error(lambda: client.video.generate(prompt="x", model="grok-imagine-video", duration=30))
        )
    with sdk(gateway, broke.secret) as client:
        empty = described(rpc_error(lambda: client.image.sample(prompt="x", model="grok-imagine-image")))

    assert wrong_key == (
        grpc.StatusCode.UNAUTHENTICATED,
        "api_key_invalid: The API key is not valid.",
        {"error-code": "api_key_invalid"},
    )
    status, details, trailing = too_long
    assert (status, details) == (
        grpc.StatusCode.INVALID_ARGUMENT,
        "invalid_argument: duration: 30 is outside 1..15; allowed: {'min': 1, 'max': 15}",
    )
    assert (trailing["error-code"], trailing["error-field"]) == ("invalid_argument", "duration")
    assert trailing["x-ratelimit-limit"] == "100000"
    status, details, trailing = empty
    assert (status, trailing["error-code"]) == (grpc.StatusCode.RESOURCE_EXHAUSTED, "insufficient_credits")
    assert details.startswith("insufficient_credits: ")
    # Nothing was created or charged.
    assert (tasks_of(gateway, key), tasks_of(gateway, broke)) == ([], [])
    assert (balance(gateway, key), balance(gateway, broke)) == (100, 0)


def test_async_client_raises_the_same_statuses(gateway_factory: Callable[..., Gateway]) -> None:
    gateway = grpc_gateway(gateway_factory)
    key = gateway.key(credits=100)

    async def run(secret: str, call: Callable[[Any], Any]) -> tuple[grpc.StatusCode, str, dict[str, str]]:
        client = xai_sdk.AsyncClient(api_key=secret, api_host=address(gateway), use_insecure_channel=True)
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await call(client)
        error = caught.value
        return error.code(), error.details() or "", dict(error.trailing_metadata() or ())

    wrong = asyncio.run(run("igw_sk_wrong", lambda c: c.image.sample(prompt="x", model="grok-imagine-image")))
    unknown = asyncio.run(run(key.secret, lambda c: c.video.get("task_00000000000000000000")))
    precondition = asyncio.run(
        run(
            key.secret,
            lambda c: c.video.start(prompt="x", model="grok-imagine-video", resolution="1080p"),
        )
    )

    assert (wrong[0], wrong[2]["error-code"]) == (grpc.StatusCode.UNAUTHENTICATED, "api_key_invalid")
    assert unknown[:2] == (
        grpc.StatusCode.NOT_FOUND,
        "not_found: Task task_00000000000000000000 was not found.",
    )
    assert (precondition[0], precondition[2]["error-code"], precondition[2]["error-field"]) == (
        grpc.StatusCode.FAILED_PRECONDITION,
        "failed_precondition",
        "resolution",
    )


def test_scopes_rate_limits_and_refused_fields_map_to_their_statuses(
    gateway_factory: Callable[..., Gateway],
) -> None:
    gateway = grpc_gateway(gateway_factory)
    reader = gateway.key(credits=100, scopes=["generations:read"], name="reader")
    limited = gateway.key(credits=100, rate_limit="1/minute", name="limited")
    key = gateway.key(credits=100)

    with sdk(gateway, reader.secret) as client:
        denied = described(rpc_error(lambda: client.video.start(prompt="x", model="grok-imagine-video")))
    with sdk(gateway, limited.secret) as client:
        client.video.start(prompt="x", model="grok-imagine-video", duration=2)
        over = described(rpc_error(lambda: client.video.start(prompt="x", model="grok-imagine-video")))
    with sdk(gateway, key.secret) as client:
        stored = described(
            rpc_error(
                lambda: client.video.start(
                    prompt="x", model="grok-imagine-video", storage_options={"filename": "out.mp4"}
                )
            )
        )
        by_file = described(
            rpc_error(
                lambda: client.video.start(prompt="x", model="grok-imagine-video", image_file_id="file_1")
            )
        )

    assert denied == (
        grpc.StatusCode.PERMISSION_DENIED,
        "api_scope_denied: This API key lacks the scope 'generations:create'.",
        {"error-code": "api_scope_denied"},
    )
    status, details, trailing = over
    assert (status, trailing["error-code"], trailing["x-ratelimit-remaining"]) == (
        grpc.StatusCode.RESOURCE_EXHAUSTED,
        "rate_limited",
        "0",
    )
    assert int(trailing["retry-after"]) >= 1 and details.startswith("rate_limited: Too many requests")
    assert (stored[0], stored[2]["error-field"]) == (grpc.StatusCode.INVALID_ARGUMENT, "storage_options")
    assert (by_file[0], by_file[2]["error-field"]) == (grpc.StatusCode.INVALID_ARGUMENT, "image.file_id")
    # One window per key, whichever API counts the request.
    assert gateway.http.get("/api/v1/generations", headers=limited.headers).status_code == 429
    assert [len(tasks_of(gateway, k)) for k in (reader, key)] == [0, 0]


def test_an_idempotency_key_in_metadata_makes_one_task(gateway_factory: Callable[..., Gateway]) -> None:
    gateway = grpc_gateway(gateway_factory)
    key = gateway.key(credits=100)

    with sdk(gateway, key.secret, metadata=(("idempotency-key", "render-42"),)) as client:
        first = client.video.start(prompt="A kite", model="grok-imagine-video", duration=2)
        again = client.video.start(prompt="A kite", model="grok-imagine-video", duration=2)
        other = described(rpc_error(lambda: client.video.start(prompt="A boat", model="grok-imagine-video")))

    assert first.request_id == again.request_id == TASK_ID
    assert (other[0], other[2]["error-code"]) == (grpc.StatusCode.ALREADY_EXISTS, "idempotency_conflict")
    assert [t["id"] for t in tasks_of(gateway, key)] == [first.request_id]
    assert balance(gateway, key) == 90


def test_imagine_serve_serves_the_sdk_on_imagine_grpc_port_and_stops_cleanly(tmp_path: Path) -> None:
    home = tmp_path / "home"
    made = asyncio.run(create_key(make_settings(home), name="team", credits=20))
    port, grpc_port = free_port(), free_port()
    os.environ["IMAGINE_GRPC_PORT"] = str(grpc_port)  # read by the server process only
    try:
        server = imagine(home, "serve", "--port", str(port))
    finally:
        del os.environ["IMAGINE_GRPC_PORT"]
    try:
        deadline = time.monotonic() + 90
        while True:
            assert server.poll() is None, server.communicate()[1]
            assert time.monotonic() < deadline, "the server did not start"
            try:
                if httpx.get(f"http://127.0.0.1:{port}/api/v1/models", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.1)
        client = xai_sdk.Client(
            api_key=made.secret, api_host=f"127.0.0.1:{grpc_port}", use_insecure_channel=True
        )
        with client:
            video = client.video.generate(
                prompt="A fox", model="grok-imagine-video", duration=2, interval=FAST_POLL
            )
    finally:
        code, err = stopped(server, signal.SIGINT)

    assert video.url == Matches(rf"http://127\.0\.0\.1:{port}/media/{RESULT_VIDEO}\?.+")
    assert (code, "Traceback" in err) == (0, False), err
