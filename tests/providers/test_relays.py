"""The relay providers (rivya, xai_compatible, grokimagineapi) end to end against their mocks."""

from __future__ import annotations

import base64
import io
from collections.abc import Callable
from typing import Any

import pytest
from PIL import Image

from imagine_gateway.catalog.loader import load_catalog
from imagine_gateway.providers.base import Job, ReferenceInput
from imagine_gateway.providers.config import ModelMapping
from imagine_gateway.providers.http import UpstreamHttp
from imagine_gateway.providers.xai import DEFAULT_MODELS, XaiProvider
from tests.conftest import Gateway
from tests.providers.conftest import UPSTREAM_KEY, StartMock, create, task_row


def entry(kind: str, base_url: str, extra: str = "") -> str:
    return f"""
[[providers]]
name = "relay"
kind = "{kind}"
base_url = "{base_url}"
api_key = "{UPSTREAM_KEY}"
{extra}
"""


def run_one(gateway: Gateway, model: str, params: dict[str, Any]) -> tuple[dict[str, Any], str]:
    key = gateway.key(credits=1000)
    task = create(gateway, key, model, params)
    done = gateway.wait_for(task["id"], key)
    return done, task["id"]


def test_another_rivya_gateway_serves_as_an_upstream_with_params_passed_through(
    upstream: StartMock, routed_gateway: Callable[..., Gateway]
) -> None:
    mock = upstream("rivya")
    gateway = routed_gateway(
        entry("rivya", mock.base_url + "/api/v1", 'models = { "grok-imagine-video" = {} }')
    )

    done, task_id = run_one(gateway, "grok-imagine-video", {"duration": 20, "mode": "spicy"})

    assert (done["status"], done["result"]["media"][0]["kind"]) == ("succeeded", "video")
    [received] = mock.mock.stats.received
    assert (received.endpoint, received.body, received.headers["idempotency-key"]) == (
        "POST /api/v1/generations",
        {
            "model": "grok-imagine-video",
            "prompt": "A lighthouse at dusk",
            "params": {"mode": "spicy", "duration": 20, "resolution": "480p", "aspect_ratio": "2:3"},
            "client_request_id": task_id,
        },
        f"imagine-{task_id}",
    )


def test_an_ambiguous_rivya_submit_is_resolved_through_its_idempotency_key(
    upstream: StartMock, routed_gateway: Callable[..., Gateway]
) -> None:
    mock = upstream("rivya", failure="reset", failure_on="submit", fail_times=1)
    gateway = routed_gateway(entry("rivya", mock.base_url))

    done, task_id = run_one(gateway, "grok-imagine", {})

    assert (done["status"], done["error"]) == ("succeeded", None)
    assert mock.mock.stats.by_endpoint["POST /api/v1/generations"] == 2
    assert len(mock.mock.jobs) == 1
    row = task_row(gateway, task_id)
    assert (row.submit_ambiguous, row.upstream_id) == (1, next(iter(mock.mock.jobs)))


@pytest.mark.parametrize(
    ("extra", "config", "endpoint"),
    [
        ("", {}, "POST /v1/videos/generations"),
        ('submit_path = "/v1/videos"', {"dubrify_style": True}, "POST /v1/videos"),
    ],
    ids=["seed-003", "dubrify"],
)
def test_an_xai_compatible_relay_serves_videos(
    upstream: StartMock,
    routed_gateway: Callable[..., Gateway],
    extra: str,
    config: dict[str, Any],
    endpoint: str,
) -> None:
    mock = upstream("xai_compatible", **config)
    gateway = routed_gateway(entry("xai_compatible", mock.base_url, extra))

    done, _ = run_one(gateway, "grok-imagine-video-1.5-preview", {"duration": 4, "resolution": "720p"})

    assert done["status"] == "succeeded"
    assert [(r.endpoint, r.body) for r in mock.mock.stats.received] == [
        (
            endpoint,
            {
                "model": "grok-imagine-video-1.5-preview",
                "prompt": "A lighthouse at dusk",
                "duration": 4,
                "aspect_ratio": "16:9",
                "resolution": "720p",
            },
        )
    ]


def test_an_xai_compatible_relay_reports_moderation_as_content_moderated(
    upstream: StartMock, routed_gateway: Callable[..., Gateway]
) -> None:
    mock = upstream("xai_compatible", dubrify_style=True, failure="moderation")
    gateway = routed_gateway(entry("xai_compatible", mock.base_url, 'submit_path = "/v1/videos"'))

    done, _ = run_one(gateway, "grok-imagine-video", {})

    # Charged by the default moderation policy: the upstream bills a moderated job as made.
    assert done["error"] == {
        "code": "content_moderated",
        "message": "relay withheld the result: it did not pass content moderation. 10 of the 10 "
        "credits reserved were charged: the upstream's moderation blocked the output, and the "
        "upstream bills the job as made (IMAGINE_BILLING_ON_MODERATION=charge).",
    }


def test_grokimagineapi_serves_its_modes_and_ratios(
    upstream: StartMock, routed_gateway: Callable[..., Gateway]
) -> None:
    mock = upstream("grokimagineapi")
    gateway = routed_gateway(entry("grokimagineapi", mock.base_url))

    done, _ = run_one(gateway, "grok-imagine-video", {"mode": "fun", "aspect_ratio": "3:2"})

    assert done["status"] == "succeeded"
    assert [(r.endpoint, r.body) for r in mock.mock.stats.received] == [
        ("POST /v1/generate", {"mode": "fun", "prompt": "A lighthouse at dusk", "ratio": "3:2"})
    ]
    refused = gateway.http.post(
        "/api/v1/generations",
        headers=gateway.key().headers,
        json={"model": "grok-imagine-video", "prompt": "x", "params": {"duration": 10}},
    )
    assert refused.json()["error"]["details"] == [
        {"field": "params.duration", "issue": "relay: 10 is above 6 (serves 6..6)"}
    ]


async def test_xai_sends_a_reference_image_as_a_data_url_for_image_to_video(upstream: StartMock) -> None:
    mock = upstream("xai")
    buffer = io.BytesIO()
    Image.new("RGB", (64, 48), (200, 30, 30)).save(buffer, "PNG")
    png = buffer.getvalue()
    catalog = load_catalog()
    models: dict[str, ModelMapping] = dict(DEFAULT_MODELS)
    http = UpstreamHttp(
        name="xai", base_url=mock.base_url, api_key=UPSTREAM_KEY, timeout_s=5, max_concurrency=4
    )
    provider = XaiProvider(name="xai", http=http, models=models)
    job = Job(
        task_id="task_1",
        model=catalog.get("grok-imagine-video"),  # type: ignore[arg-type]
        prompt="Bring it to life",
        params={"duration": 6, "resolution": "480p", "aspect_ratio": "1:1", "mode": "normal"},
        references=(ReferenceInput(kind="image", mime_type="image/png", data=png),),
    )
    try:
        submitted = await provider.submit(job)
    finally:
        await provider.aclose()

    assert mock.mock.stats.bodies() == [
        {
            "model": "grok-imagine-video",
            "prompt": "Bring it to life",
            "duration": 6,
            "aspect_ratio": "1:1",
            "resolution": "480p",
            "image": {"url": "data:image/png;base64," + base64.b64encode(png).decode()},
        }
    ]
    assert mock.mock.jobs[submitted.upstream_id].references[0].startswith("data:image/png;base64,")
