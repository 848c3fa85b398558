"""One place where a committed task change is counted and logged (one log event per transition)."""

from __future__ import annotations

import logging

from imagine_gateway.core.records import Task
from imagine_gateway.core.updates import TaskUpdate
from imagine_gateway.telemetry import metrics

log = logging.getLogger("imagine_gateway.tasks")


def task_created(task: Task, *, dialect: str) -> None:
    """A task was inserted with its credits reserved (called once its transaction committed)."""
    metrics.child(metrics.tasks_created, task.model, dialect).inc()
    metrics.count_credits("reserve", task.reserved_credits)
    log.info(
        "task created",
        extra={
            "event": "task.created",
            "task_id": task.id,
            "account_id": task.account_id,
            "model": task.model,
            "dialect": dialect,
            "state": task.state,
        },
    )


def task_changed(update: TaskUpdate) -> None:
    """``update`` took effect: count its credits and its end, and log the transition."""
    task = update.task
    for posting in update.postings:
        metrics.count_credits(posting.kind, abs(posting.reserved_delta))
    provider = update.provider or task.provider
    if update.result is not None and provider:
        for asset in update.result.assets:
            metrics.child(metrics.collected_bytes, provider).inc(asset.size_bytes)
            metrics.child(metrics.collected_assets, provider).inc()
    if update.terminal and update.state is not None:
        metrics.child(metrics.tasks_ended, task.model, update.state.value, update.error_code or "").inc()
    if update.state is None or update.state.value == task.state:
        return  # a reschedule, a progress report or a lease renewal: not a transition
    fields = {
        "event": "task.transition",
        "task_id": task.id,
        "account_id": task.account_id,
        "model": task.model,
        "provider": provider,
        "from_state": task.state,
        "state": update.state.value,
    }
    if update.error_code is not None:
        fields["error_code"] = update.error_code
    level = logging.WARNING if update.error_code is not None else logging.INFO
    log.log(level, "task %s -> %s", task.state, update.state.value, extra=fields)
