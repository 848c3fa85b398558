"""The log of a full run: JSON lines with the ids, one line per task transition, and no secret."""

from __future__ import annotations

import asyncio
import json
import re
from pathlib import Path

import httpx

from tests.conftest import create_key, make_settings
from tests.ops.processes import free_port, imagine, terminate, wait_http
from tests.providers.conftest import StartMock

UPSTREAM_SECRET = "xai-UPSTREAMsecret0123456789abcdef"
SIGNING_SECRET = "signing-secret-0123456789abcdef0123"
METRICS_TOKEN = "metrics-token-0123456789abcdef"


def test_a_full_run_logs_json_lines_with_ids_and_never_a_secret(tmp_path: Path, upstream: StartMock) -> None:
    mock = upstream("xai", api_key=UPSTREAM_SECRET)
    home = tmp_path / "home"
    port = free_port()
    log_file = tmp_path / "serve.log"
    server = imagine(
        home,
        "serve",
        "--port",
        str(port),
        log_file=log_file,
        XAI_API_KEY=UPSTREAM_SECRET,
        XAI_BASE_URL=mock.base_url,
        IMAGINE_SECRET_KEY=SIGNING_SECRET,
        IMAGINE_METRICS_TOKEN=METRICS_TOKEN,
        IMAGINE_ACCESS_LOG="true",
        IMAGINE_LOG_LEVEL="debug",
        IMAGINE_POLL_FIRST_S="0.1",
        IMAGINE_POLL_MAX_INTERVAL_S="0.2",
        IMAGINE_WEBHOOK_ALLOW_PRIVATE="true",
        IMAGINE_WEBHOOK_POLL_INTERVAL_S="0.1",
    )
    base = f"http://127.0.0.1:{port}"
    try:
        wait_http(server, f"{base}/healthz")
        settings = make_settings(home, secret_key=SIGNING_SECRET)
        api_key = asyncio.run(create_key(settings, name="logs", credits=1000)).secret
        headers = {"Authorization": f"Bearer {api_key}"}
        with httpx.Client(base_url=base, headers=headers, timeout=30) as http:
            hook = http.post("/api/v1/webhooks", json={"url": f"http://127.0.0.1:{free_port()}/hook"}).json()
            created = http.post(
                "/api/v1/generations", json={"model": "grok-imagine-video", "prompt": "a lighthouse"}
            ).json()
            while (task := http.get(f"/api/v1/generations/{created['id']}").json())["status"] not in (
                "succeeded",
                "failed",
            ):
                pass
            signed = re.findall(r"https?://[^\"']+[?&]sig=[^\"']+", json.dumps(task))
            assert signed, task
            assert httpx.get(signed[0], timeout=30).status_code == 200
            http.get("/metrics", headers={"Authorization": f"Bearer {METRICS_TOKEN}"})
            http.get("/api/v1/generations/gen_nope", headers={"Authorization": "Bearer igw_sk_notakeyatall"})
    finally:
        terminate(server)
    log = log_file.read_text()

    assert task["status"] == "succeeded"
    lines = [json.loads(line) for line in log.splitlines() if line.strip()]  # every line is JSON
    assert {"ts", "level", "logger", "message"} <= set(lines[0])
    transitions = [line for line in lines if line.get("event") == "task.transition"]
    assert [(t["from_state"], t["state"]) for t in transitions] == [
        ("queued", "submitting"),
        ("submitting", "processing"),
        ("processing", "collecting"),
        ("collecting", "succeeded"),
    ]
    assert all(
        (t["task_id"], t["account_id"], t["provider"]) == (created["id"], task_account(lines), "xai")
        for t in transitions
    )
    requests = [line for line in lines if line.get("event") == "http.request"]
    assert all(re.fullmatch(r"req_[A-Za-z0-9]+", r["request_id"]) for r in requests), requests[:3]
    posted = [r for r in requests if r["route"] == "/api/v1/generations" and r["method"] == "POST"]
    assert [(r["status"], r["dialect"], r["account_id"]) for r in posted] == [
        (202, "native", task_account(lines))
    ]
    secrets = [
        UPSTREAM_SECRET,
        SIGNING_SECRET,
        METRICS_TOKEN,
        api_key,
        hook["signing_secret"],
        "igw_sk_notakeyatall",
    ]
    secrets += [url.split("sig=", 1)[1].split("&")[0] for url in signed]
    leaked = [s for s in secrets if s in log]
    assert leaked == [], leaked
    assert "sig=" not in log.replace("sig=[redacted]", "")


def task_account(lines: list[dict[str, object]]) -> object:
    created = [line for line in lines if line.get("event") == "task.created"]
    assert len(created) == 1
    return created[0]["account_id"]
