"""Result re-hosting: the worker's collect step streaming an upstream's result into our storage."""

from __future__ import annotations

import contextlib
import hashlib
import secrets
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import boto3
import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.routing import Route

from imagine_gateway.catalog.loader import load_catalog
from imagine_gateway.core.results import StoredAsset
from imagine_gateway.media.storage import LocalStorage, open_storage
from imagine_gateway.providers.base import Job, ProviderUnavailable, ResultAsset
from imagine_gateway.providers.router import Router
from imagine_gateway.providers.sandbox import SandboxProvider
from imagine_gateway.runtime import Overrides
from imagine_gateway.testing.loopback import LoopbackServer
from imagine_gateway.worker.collect import CollectError, collect_asset
from tests.conftest import Gateway
from tests.files import samples


@pytest.fixture(scope="module")
def video(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    return samples.mp4(tmp_path_factory.mktemp("video") / "clip.mp4", seconds=2.0, size=(160, 120))


@pytest.fixture(scope="module")
def upstream(video: bytes) -> Iterator[str]:
    """An upstream's file server: a good MP4, one that breaks off half-way, a text file, and an MP4
    that ends after its first 200 bytes (it sniffs as MP4 but fails the probe)."""

    async def ok(request: Request) -> Response:
        return Response(video, media_type="video/mp4")

    async def broken(request: Request) -> Response:
        async def body() -> AsyncIterator[bytes]:
            yield video[: len(video) // 2]
            raise ConnectionResetError("upstream went away")

        return StreamingResponse(body(), media_type="video/mp4", headers={"Content-Length": str(len(video))})

    async def text(request: Request) -> Response:
        return Response(b"<html>this is an error page, not a video</html>\n" * 4, media_type="video/mp4")

    async def truncated(request: Request) -> Response:
        return Response(video[:200], media_type="video/mp4")

    app = Starlette(
        routes=[
            Route("/ok.mp4", ok),
            Route("/broken.mp4", broken),
            Route("/text.mp4", text),
            Route("/truncated.mp4", truncated),
        ]
    )
    with LoopbackServer(app) as server:
        yield server.base_url


class HttpResults:
    """The result side of an HTTP provider: stream the upstream URL, transport failures retryable."""

    name = "http-results"

    async def open_result(self, asset: ResultAsset, job: Job) -> AsyncIterator[bytes]:
        try:
            async with httpx.AsyncClient() as client, client.stream("GET", asset.url) as response:
                async for chunk in response.aiter_raw():
                    yield chunk
        except httpx.TransportError as exc:
            raise ProviderUnavailable(f"download broke off: {exc}") from exc


def job(task_id: str) -> Job:
    model = load_catalog().get("grok-imagine-video")
    assert model is not None
    return Job(task_id=task_id, model=model, prompt="p", params={})


async def collect(
    storage: LocalStorage, url: str, *, max_bytes: int = 10 * samples.MIB, tmp: Path
) -> StoredAsset:
    return await collect_asset(
        storage,
        HttpResults(),
        job("task_one"),  # type: ignore[arg-type]
        ResultAsset(url=url, kind="video"),
        0,
        max_bytes=max_bytes,
        work_dir=tmp,
    )


async def test_a_result_is_streamed_into_storage_probed_and_given_a_poster(
    upstream: str, video: bytes, tmp_path: Path
) -> None:
    storage = LocalStorage(tmp_path / "media")
    collected = await collect(storage, f"{upstream}/ok.mp4", tmp=tmp_path)
    assert collected == StoredAsset(
        key="results/task_one/0.mp4",
        kind="video",
        mime_type="video/mp4",
        size_bytes=len(video),
        sha256=hashlib.sha256(video).hexdigest(),
        width=160,
        height=120,
        duration_s=collected.duration_s,
        poster_key="results/task_one/0.poster.jpg",
    )
    assert collected.duration_s is not None and abs(collected.duration_s - 2.0) < 0.05
    assert (tmp_path / "media" / "results" / "task_one" / "0.mp4").read_bytes() == video
    poster = await storage.stat("results/task_one/0.poster.jpg")
    assert poster is not None and poster.content_type == "image/jpeg"


@pytest.mark.parametrize(
    ("path", "max_bytes", "retryable", "message"),
    [
        ("/broken.mp4", 10 * samples.MIB, True, "Downloading the result failed: download broke off: "),
        (
            "/text.mp4",
            10 * samples.MIB,
            False,
            "The upstream's result is not a valid video: detected text/plain.",
        ),
        ("/ok.mp4", 1000, False, "The result is larger than 1000 bytes."),
        ("/truncated.mp4", 10 * samples.MIB, False, "The upstream's result is not a valid video: "),
    ],
    ids=["broken off", "not a video", "too large", "not decodable"],
)
async def test_a_result_that_cannot_be_taken_in_leaves_nothing(
    upstream: str, tmp_path: Path, path: str, max_bytes: int, retryable: bool, message: str
) -> None:
    storage = LocalStorage(tmp_path / "media")
    with pytest.raises(CollectError) as failed:
        await collect(storage, f"{upstream}{path}", max_bytes=max_bytes, tmp=tmp_path)
    assert failed.value.retryable is retryable
    assert str(failed.value).startswith(message)
    assert files_under(tmp_path) == []


@pytest.mark.parametrize(
    ("path", "stored"),
    [
        ("/ok.mp4", ["m/results/task_one/0.mp4", "m/results/task_one/0.poster.jpg"]),
        ("/truncated.mp4", []),  # the probe fails: CollectError, and the blob is deleted again
    ],
    ids=["valid", "not decodable"],
)
async def test_without_a_local_file_the_probe_reads_a_work_file_that_is_removed_after(
    upstream: str,
    s3_endpoint: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    path: str,
    stored: list[str],
) -> None:
    for name, value in {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing"}.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    bucket = f"media-{secrets.token_hex(6)}"
    storage = open_storage(f"s3://{bucket}?endpoint={s3_endpoint}&region=us-east-1&prefix=m/")
    work = tmp_path / "work"
    work.mkdir()
    outcome = contextlib.nullcontext() if stored else pytest.raises(CollectError)
    try:
        with outcome:
            await collect_asset(
                storage,
                HttpResults(),
                job("task_one"),  # type: ignore[arg-type]
                ResultAsset(url=f"{upstream}{path}", kind="video"),
                0,
                max_bytes=10 * samples.MIB,
                work_dir=work,
            )
    finally:
        await storage.aclose()
    client = boto3.client("s3", endpoint_url=s3_endpoint, region_name="us-east-1")
    try:
        listing = client.list_objects_v2(Bucket=bucket).get("Contents", [])
    finally:
        client.close()
    assert (sorted(item["Key"] for item in listing), files_under(work)) == (stored, [])


def files_under(root: Path) -> list[Path]:
    """Every file left below ``root``: stored blobs, their metadata and temp files alike."""
    return [p for p in root.rglob("*") if p.is_file()]


class FlakySandbox(SandboxProvider):
    """The sandbox engine behind a download that breaks off its first ``failures`` times."""

    def __init__(self, failures: int) -> None:
        super().__init__(latency_s=0.2, failure_rate=0.0, fps=4)
        self.failures = failures
        self.downloads = 0

    async def open_result(self, asset: ResultAsset, job: Job) -> AsyncIterator[bytes]:
        self.downloads += 1
        if self.downloads <= self.failures:
            yield b"\x00\x00\x00\x18ftypmp42"
            raise ProviderUnavailable("the connection broke off")
        async for chunk in super().open_result(asset, job):
            yield chunk


def run_task(
    gateway_factory: Callable[..., Gateway], provider: FlakySandbox
) -> tuple[Gateway, Any, dict[str, Any]]:
    gateway = gateway_factory(overrides=Overrides(router=Router([provider])), collect_attempts=2)
    key = gateway.key(credits=100)
    created = gateway.http.post(
        "/api/v1/generations", headers=key.headers, json={"model": "grok-imagine", "prompt": "A picture"}
    ).json()
    return gateway, key, gateway.wait_for(created["id"], key)


def test_a_failed_download_is_retried_with_backoff(gateway_factory: Callable[..., Gateway]) -> None:
    provider = FlakySandbox(failures=1)
    _, _, done = run_task(gateway_factory, provider)
    assert (done["status"], provider.downloads) == ("succeeded", 2)


def test_after_the_retry_budget_the_task_fails_and_is_refunded(
    gateway_factory: Callable[..., Gateway],
) -> None:
    provider = FlakySandbox(failures=99)
    gateway, key, done = run_task(gateway_factory, provider)
    assert (done["status"], done["error"], provider.downloads) == (
        "failed",
        {"code": "result_unavailable", "message": "Downloading the result failed: the connection broke off"},
        2,
    )
    credits = gateway.http.get("/api/v1/credits", headers=key.headers).json()
    assert (credits["balance"], credits["reserved"]) == (100, 0)
