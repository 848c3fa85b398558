"""A new task as a create opens it, with every field a test does not name set to a plain value."""

from __future__ import annotations

from typing import Any

from imagine_gateway.core.transitions import NewTask, open_task

PARAMS = {"duration": 6, "aspect_ratio": "16:9", "nested": {"seed": None, "tags": ["a", "b"]}}


def new_task(
    task_id: str = "task_1",
    *,
    account_id: str = "acct_1",
    api_key_id: str | None = None,
    prompt: str = "a lighthouse at dusk, «ünïcode» ✓",
    params: dict[str, Any] | None = None,
    price: int = 10,
    deadline_ms: int = 3_600_000,
    now_ms: int = 1_800_000_000_000,
) -> NewTask:
    """The task and its reservation, queued and due now."""
    return open_task(
        task_id=task_id,
        account_id=account_id,
        api_key_id=api_key_id,
        model="grok-imagine-video",
        prompt=prompt,
        params=dict(PARAMS) if params is None else params,
        client_request_id=None,
        dialect="native",
        webhook_url=None,
        price=price,
        deadline_ms=deadline_ms,
        now_ms=now_ms,
    )
