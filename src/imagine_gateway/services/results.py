"""Stored results of finished tasks: reading one whole, and removing them on a client's request.

Deletion follows retention's rule: the blobs go first, then the task's row is marked ``expired``
(its metadata kept, so clients see ``expired: true`` rather than a 404). A failure in between leaves
the row as it was, pointing at what may be left, so asking again (or the next retention sweep, once
the result's time is up) finishes the job; the other order would leave blobs nothing ever removes.
"""

from __future__ import annotations

from imagine_gateway.core.clock import Clock
from imagine_gateway.core.errors import NotFound
from imagine_gateway.core.records import Task
from imagine_gateway.core.results import result_keys
from imagine_gateway.core.states import TaskState
from imagine_gateway.media.storage import Storage
from imagine_gateway.services.principal import Principal
from imagine_gateway.store import files as file_store
from imagine_gateway.store import tasks as task_store
from imagine_gateway.store.db import Database


class ResultService:
    """Reads and removes a task's stored result files."""

    def __init__(self, *, db: Database, storage: Storage, clock: Clock) -> None:
        self.db = db
        self.storage = storage
        self.clock = clock

    async def read_asset(self, task: Task, index: int = 0) -> bytes:
        """The bytes of one result file, for answers that carry it inline (base64 images)."""
        if task.result is None:
            raise NotFound(f"Task {task.id} has no result.")
        key = task.result.assets[index].key
        return b"".join([chunk async for chunk in self.storage.read_range(key, 0, None)])

    async def delete_result(self, principal: Principal, task_id: str) -> bool:
        """Delete the caller's succeeded task's files, then mark its result expired.

        False when there is nothing to delete (the task did not succeed, or its result is already
        marked expired). A storage error propagates with the row left unmarked, for a retry.
        """
        async with self.db.read() as conn:
            task = await task_store.get_task(conn, task_id, account_id=principal.account_id)
        if task is None:
            raise NotFound(f"Task {task_id} was not found.")
        if task.task_state is not TaskState.SUCCEEDED or task.result is None or task.result.expired:
            return False
        for key in result_keys(task.result):
            await self.storage.delete(key)  # a missing blob is not an error: a retry passes here again
        async with self.db.write() as conn:
            return await file_store.mark_result_expired(conn, task, now_ms=self.clock.now_ms())


__all__ = ["ResultService"]
