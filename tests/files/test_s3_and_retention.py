"""The whole Files flow on S3-compatible storage (moto's real server on loopback), and retention."""

from __future__ import annotations

import asyncio
import hashlib
import json
import secrets
import sqlite3
import time
from collections.abc import Callable
from typing import Any

import boto3
import httpx

from imagine_gateway.media.storage import open_storage
from imagine_gateway.store.db import Database
from imagine_gateway.worker.sweeper import Sweeper, SweepStats
from tests.conftest import Gateway
from tests.files import samples
from tests.matchers import error_body

DAY_MS = 86_400_000


def bucket_keys(endpoint: str, bucket: str) -> list[str]:
    client = boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1")
    try:
        listing = client.list_objects_v2(Bucket=bucket)
    finally:
        client.close()
    return sorted(item["Key"] for item in listing.get("Contents", []))


def test_upload_reference_and_rehosted_result_live_in_s3(
    gateway_factory: Callable[..., Gateway], s3_endpoint: str, aws_env: None
) -> None:
    bucket = f"media-{secrets.token_hex(6)}"
    gateway = gateway_factory(storage_url=f"s3://{bucket}?endpoint={s3_endpoint}&region=us-east-1&prefix=gw/")
    key = gateway.key()
    data = samples.png((200, 30, 40), (320, 180))
    file = gateway.http.post(
        "/api/v1/files",
        headers=key.headers,
        data={"kind": "image"},
        files={"file": ("red.png", data, "image/png")},
    ).json()
    assert (file["size_bytes"], file["sha256"], file["width"]) == (
        len(data),
        hashlib.sha256(data).hexdigest(),
        320,
    )
    served = httpx.get(file["url"], headers={"Range": "bytes=1-3"})
    assert (served.status_code, served.content, served.headers["content-type"]) == (
        206,
        data[1:4],
        "image/png",
    )

    refused = gateway.http.post(
        "/api/v1/files",
        headers=key.headers,
        data={"kind": "image"},
        files={"file": ("bomb.png", samples.png_bomb(), "image/png")},
    )
    assert refused.status_code == 400

    created = gateway.http.post(
        "/api/v1/generations",
        headers=key.headers,
        json={
            "model": "grok-imagine-video",
            "prompt": "Animate",
            "params": {
                "aspect_ratio": "16:9",
                "referenceMediaItems": [{"url": file["url"], "kind": "image"}],
            },
        },
    ).json()
    done = gateway.wait_for(created["id"], key)
    assert done["status"] == "succeeded"
    video = httpx.get(done["result"]["primary_url"])
    assert (video.status_code, video.headers["content-type"]) == (200, "video/mp4")
    assert hashlib.sha256(video.content).hexdigest() == done["result"]["media"][0]["sha256"]
    assert bucket_keys(s3_endpoint, bucket) == sorted(
        [
            f"gw/uploads/{file['id']}.png",
            f"gw/results/{created['id']}/0.mp4",
            f"gw/results/{created['id']}/0.poster.jpg",
        ]
    )


class LaterClock:
    def __init__(self, offset_ms: int) -> None:
        self.offset_ms = offset_ms

    def now_ms(self) -> int:
        return time.time_ns() // 1_000_000 + self.offset_ms


def sweep(gateway: Gateway, *, days: float) -> SweepStats:
    """A sweep by a separate process's worth of parts (its own database engine and storage)."""

    async def run() -> SweepStats:
        db = Database(gateway.settings.resolved_database_url)
        storage = open_storage(gateway.settings.resolved_storage_url)
        try:
            return await Sweeper(db=db, storage=storage, clock=LaterClock(int(days * DAY_MS))).sweep_once()
        finally:
            await storage.aclose()
            await db.dispose()

    return asyncio.run(run())


def test_the_sweeper_removes_expired_uploads_and_results_but_keeps_task_metadata(gateway: Gateway) -> None:
    key = gateway.key()
    file = gateway.http.post(
        "/api/v1/files",
        headers=key.headers,
        data={"kind": "image"},
        files={"file": ("red.png", samples.png(), "image/png")},
    ).json()
    created = gateway.http.post(
        "/api/v1/generations",
        headers=key.headers,
        json={
            "model": "grok-imagine",
            "prompt": "A picture",
            "params": {"referenceMediaItems": [{"url": file["url"], "kind": "image"}]},
        },
    ).json()
    done = gateway.wait_for(created["id"], key)
    media_root = gateway.settings.home / "media"
    result_blob = media_root / "results" / created["id"] / "0.png"
    assert result_blob.exists() and (media_root / "uploads" / f"{file['id']}.png").exists()

    assert sweep(gateway, days=0.5) == SweepStats(0, 0)
    assert sweep(gateway, days=1.01) == SweepStats(files_removed=1, results_expired=0)
    assert not (media_root / "uploads" / f"{file['id']}.png").exists()
    gone = gateway.http.get(f"/api/v1/files/{file['id']}", headers=key.headers)
    assert (gone.status_code, gone.json()) == (
        404,
        error_body("not_found", f"File {file['id']} was not found."),
    )

    assert sweep(gateway, days=8) == SweepStats(files_removed=0, results_expired=1)
    assert sweep(gateway, days=9) == SweepStats(0, 0)
    assert not result_blob.exists()
    after = gateway.http.get(f"/api/v1/generations/{created['id']}", headers=key.headers).json()
    assert after == {
        **done,
        "updated_at": after["updated_at"],
        "result": {"primary_url": None, "urls": [], "expired": True, "media": []},
    }
    with sqlite3.connect(gateway.settings.home / "imagine.db") as db:
        kept: dict[str, Any] = json.loads(
            db.execute("select result from tasks where id = ?", (created["id"],)).fetchone()[0]
        )
    assert kept["expired"] is True
    assert kept["assets"][0]["sha256"] == done["result"]["media"][0]["sha256"]
