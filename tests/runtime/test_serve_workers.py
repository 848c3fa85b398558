"""`imagine serve --workers 2`: two API processes on one port, one database, one task worker."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx

from imagine_gateway.services.accounts import open_accounts
from imagine_gateway.settings import load_settings
from tests.runtime.test_processes import free_port

KEY_CACHE_S = 0.5  # how long an API process may trust a key it checked, when no notice reaches it


def api_processes(parent: int) -> list[int]:
    """The processes uvicorn's supervisor spawned to serve (its resource tracker left out)."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
            cmdline = Path(f"/proc/{entry}/cmdline").read_bytes()
        except OSError:
            continue
        if int(stat.rsplit(")", 1)[1].split()[1]) == parent and b"spawn_main" in cmdline:
            found.append(int(entry))
    return found


def fresh_get(url: str, secret: str) -> httpx.Response:
    """One request on a connection of its own, so the kernel hands it to either process."""
    return httpx.get(url, headers={"Authorization": f"Bearer {secret}"}, timeout=10)


def test_two_api_processes_share_the_database_one_runs_the_worker_and_a_revoke_reaches_both(
    tmp_path: Path,
) -> None:
    home, port = tmp_path / "home", free_port()
    settings = load_settings(home=home)

    async def make_key() -> tuple[str, str, str]:
        async with open_accounts(settings) as accounts:
            made = await accounts.create_key(name="two", credits=100)
            return made.secret, made.key.id, made.account.id

    secret, key_id, account_id = asyncio.run(make_key())
    env = {
        **os.environ,
        "IMAGINE_HOME": str(home),
        "IMAGINE_SANDBOX_LATENCY_S": "0.3",
        "IMAGINE_SANDBOX_FPS": "4",
        "IMAGINE_WORKER_IDLE_POLL_S": "0.05",
        "IMAGINE_KEY_CACHE_S": str(KEY_CACHE_S),
        "IMAGINE_RATE_LIMIT": "100000/minute",
    }
    env.pop("XAI_API_KEY", None)
    server = subprocess.Popen(
        [sys.executable, "-m", "imagine_gateway.cli.main", "serve", "--port", str(port), "--workers", "2"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 90
        while len(api_processes(server.pid)) < 2 or not _answers(base):
            assert server.poll() is None, server.communicate()[1]
            assert time.monotonic() < deadline, "the two API processes did not start"
            time.sleep(0.2)
        created = httpx.post(
            f"{base}/api/v1/generations",
            headers={"Authorization": f"Bearer {secret}"},
            json={"model": "grok-imagine", "prompt": "a fox"},
            timeout=10,
        ).json()
        deadline = time.monotonic() + 60
        while (seen := fresh_get(f"{base}/api/v1/generations/{created['id']}", secret).json())["status"] != (
            "succeeded"
        ):
            assert seen["status"] in ("queued", "processing"), seen
            assert time.monotonic() < deadline, f"task still {seen['status']}"
            time.sleep(0.1)
        views = [fresh_get(f"{base}/api/v1/generations/{created['id']}", secret).json() for _ in range(12)]

        async def revoke_and_read() -> tuple[int, int]:
            async with open_accounts(settings) as accounts:
                await accounts.revoke_key(key_id)
                account = await accounts.get_account(account_id)
                return account.balance, account.reserved

        balance, reserved = asyncio.run(revoke_and_read())
        time.sleep(KEY_CACHE_S + 0.2)  # the bound: no notice reaches these processes without Redis
        refused = [fresh_get(f"{base}/api/v1/credits", secret) for _ in range(12)]
        processes = len(api_processes(server.pid))
    finally:
        server.send_signal(signal.SIGTERM)
        try:
            _, err = server.communicate(timeout=60)
        except subprocess.TimeoutExpired:
            server.kill()
            raise

    assert processes == 2
    # Whichever process answered, the same task: one database, and one worker finished it once.
    # (The result's signed URLs are signed afresh on each read.)
    unsigned = [{**v, "result": sorted(v["result"])} for v in views]
    assert all(v == unsigned[0] for v in unsigned) and views[0]["status"] == "succeeded"
    assert (balance, reserved) == (100 - views[0]["final_credits"], 0)
    assert {(r.status_code, r.json()["error"]["code"]) for r in refused} == {(401, "api_key_revoked")}
    assert "Traceback" not in err, err


def _answers(base: str) -> bool:
    try:
        return httpx.get(f"{base}/api/v1/models", timeout=2).status_code == 200
    except httpx.TransportError:
        return False
