"""Ending a task: the state change and its credit movement in one transaction, at most once."""

from __future__ import annotations

from typing import Any

from imagine_gateway.core.records import Task
from imagine_gateway.core.states import ACTIVE, CreditsState, TaskState
from imagine_gateway.store import ledger
from imagine_gateway.store import tasks as task_store
from imagine_gateway.store.db import Database


async def succeed(
    db: Database, task: Task, *, result: dict[str, Any], now_ms: int, expires_at: int | None
) -> bool:
    """Capture the reservation and mark the task succeeded; False when it was already ended."""
    async with db.write() as conn:
        moved = await task_store.finish(
            conn,
            task.id,
            expected_fence=task.fence,
            from_states=[TaskState.COLLECTING],
            values={
                "state": TaskState.SUCCEEDED.value,
                "credits_state": CreditsState.CAPTURED.value,
                "final_credits": task.reserved_credits,
                "result": result,
                "progress": 100,
                "updated_at": now_ms,
                "completed_at": now_ms,
                "expires_at": expires_at,
            },
        )
        if moved:
            await ledger.post(
                conn,
                account_id=task.account_id,
                kind="capture",
                amount=0,
                reserved_delta=-task.reserved_credits,
                task_id=task.id,
                now_ms=now_ms,
            )
    return moved


async def fail(
    db: Database,
    task: Task,
    *,
    code: str,
    message: str,
    now_ms: int,
    fenced: bool = True,
    extra: dict[str, Any] | None = None,
) -> bool:
    """Release the reservation and mark the task failed; False when it was already ended."""
    async with db.write() as conn:
        moved = await task_store.finish(
            conn,
            task.id,
            expected_fence=task.fence if fenced else None,
            from_states=list(ACTIVE),
            values={
                "state": TaskState.FAILED.value,
                "credits_state": CreditsState.RELEASED.value,
                "error_code": code,
                "error_message": message[:1000],
                "updated_at": now_ms,
                "completed_at": now_ms,
                **(extra or {}),
            },
        )
        if moved:
            await ledger.post(
                conn,
                account_id=task.account_id,
                kind="release",
                amount=task.reserved_credits,
                reserved_delta=-task.reserved_credits,
                task_id=task.id,
                now_ms=now_ms,
            )
    return moved
