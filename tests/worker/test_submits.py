"""What a submission writes before and after the engine takes the job."""

from __future__ import annotations

from pathlib import Path

from imagine_gateway.core.updates import TaskUpdate
from imagine_gateway.runtime import Context
from imagine_gateway.worker.runner import Worker
from tests.worker.conftest import claim, create_tasks, gateway_context, row, worker_parts


class RecordingWorker(Worker):
    """A worker that keeps every update it wrote, in order."""

    def __init__(self, ctx: Context) -> None:
        super().__init__(**worker_parts(ctx))
        self.written: list[TaskUpdate] = []

    async def _apply(self, update: TaskUpdate) -> bool:
        landed = await super()._apply(update)
        if landed:
            self.written.append(update)
        return landed


async def test_the_sandbox_engine_takes_a_queued_job_to_processing_in_one_write(tmp_path: Path) -> None:
    """Nothing leaves the process, so no ``submitting`` record goes first: a crash before the write
    leaves the task queued, and the next claim submits it again."""
    async with gateway_context(tmp_path, sandbox_latency_s=30.0) as ctx:
        worker = RecordingWorker(ctx)
        await create_tasks(ctx, 1)
        (task,) = await claim(ctx, 1)

        await worker.step(task)

        assert [(u.state.value if u.state else None) for u in worker.written] == ["processing"]
        stored = await row(ctx, task.id)
        assert {k: stored[k] for k in ("state", "provider", "polls", "lease_owner", "lease_expires_at")} == {
            "state": "processing",
            "provider": "sandbox",
            "polls": 0,
            "lease_owner": None,
            "lease_expires_at": None,
        }
        assert str(stored["upstream_id"]).startswith(f"sbx_{task.id}_")
        started = stored["started_at"]
        assert isinstance(started, int) and started >= task.created_at
        assert stored["next_run_at"] == started + 30_000
        assert stored["fence"] == task.fence
