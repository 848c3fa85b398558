"""The worker's steps, one per live state; the loop (``worker.runner``) picks one by the task's state.

queued      -> submit     record 'submitting' + provider, then submit   -> processing
submitting  -> reconcile  (found after a crash) never resubmit blindly  -> processing | failed
processing  -> poll       on a backoff schedule                         -> collecting | failed
collecting  -> collect    stream results into storage, probe, capture   -> succeeded | failed
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from imagine_gateway.core.records import Task
from imagine_gateway.core.states import TaskState
from imagine_gateway.worker.steps.base import Retry, StepContext
from imagine_gateway.worker.steps.collect import collect
from imagine_gateway.worker.steps.poll import poll
from imagine_gateway.worker.steps.reconcile import reconcile
from imagine_gateway.worker.steps.submit import submit

Step = Callable[[StepContext, Task], Awaitable[None]]

STEPS: dict[TaskState, Step] = {
    TaskState.QUEUED: submit,
    TaskState.SUBMITTING: reconcile,
    TaskState.PROCESSING: poll,
    TaskState.COLLECTING: collect,
}

__all__ = ["STEPS", "Retry", "Step", "StepContext"]
