"""Creates on SQLite run on the event loop's thread unless another process holds the write lock."""

from __future__ import annotations

import sqlite3
import threading
import time

import httpx
from sqlalchemy.engine import make_url

from tests.conftest import Gateway


def test_a_create_waits_off_the_loop_while_another_process_holds_the_write_lock(gateway: Gateway) -> None:
    key = gateway.key(credits=50)
    path = make_url(gateway.settings.resolved_database_url).database
    assert path is not None
    other = sqlite3.connect(path, isolation_level=None)  # as another process would hold it
    other.execute("BEGIN IMMEDIATE")
    answers: list[httpx.Response] = []
    create = threading.Thread(
        target=lambda: answers.append(
            httpx.post(
                f"{gateway.base_url}/api/v1/generations",
                headers=key.headers,
                json={"model": "grok-imagine", "prompt": "a fox"},
                timeout=30,
            )
        )
    )
    try:
        create.start()
        time.sleep(0.3)
        # The create waits for the lock on aiosqlite's thread, so the loop goes on answering.
        models = gateway.http.get("/api/v1/models", timeout=5)
        waiting = create.is_alive()
    finally:
        other.execute("COMMIT")
        other.close()
    create.join(timeout=30)

    assert (models.status_code, waiting) == (200, True)
    assert answers[0].status_code == 202
    assert answers[0].json()["status"] == "queued"
    reserved = answers[0].json()["reserved_credits"]
    credits = gateway.http.get("/api/v1/credits", headers=key.headers).json()
    assert (credits["balance"], credits["reserved"]) == (50 - reserved, reserved)
