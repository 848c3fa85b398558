"""The provider interface: how the worker talks to an upstream engine.

A provider knows the catalog's public models and its own upstream's wire shape; it knows nothing of
our HTTP routes or tables. Errors it raises:

    ProviderError                 base; ``retryable`` says whether the same call may be tried again
    ├── ProviderUnavailable       connection refused, 5xx, 429, timeout before a response: safe to
    │   │                         retry or to fail over (``retry_after_s`` when the upstream said)
    │   └── ProviderMisconfigured the upstream refuses our key (or our address for it): another
    │                             provider may do, this one will not until its configuration changes
    ├── SubmitAmbiguous           the request may have reached the upstream (connection dropped after
    │                             sending): never resubmit blindly
    └── ProviderRejected          the upstream refused the job (bad params, moderation): final
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol, runtime_checkable

from imagine_gateway.catalog.contract import ModelContract
from imagine_gateway.core.results import ResultAsset as ResultAsset


@dataclass(frozen=True)
class ReferenceInput:
    """A reference file resolved by the gateway: bytes we hold, and a URL the upstream can fetch."""

    kind: str
    mime_type: str
    data: bytes | None = None
    url: str | None = None
    # What the file is for (catalog roles; None: the model's default for its kind), and a
    # keyframe's timestamp.
    role: str | None = None
    timestamp_s: float | None = None


@dataclass(frozen=True)
class Job:
    """What a provider needs to submit one task."""

    task_id: str
    model: ModelContract
    prompt: str
    params: dict[str, Any]
    references: tuple[ReferenceInput, ...] = ()
    now_ms: int = 0
    # The account the task belongs to (a provider may pass a stable, hashed id of it upstream).
    account_id: str | None = None


@dataclass(frozen=True)
class Submitted:
    upstream_id: str
    # When the upstream knows the job will not be ready sooner (the sandbox does), the first poll
    # may come at this time instead of the default first-poll delay.
    first_poll_s: float | None = None


@dataclass(frozen=True)
class PollOutcome:
    state: Literal["pending", "done", "failed"]
    progress: int = 0
    assets: tuple[ResultAsset, ...] = ()
    error_code: str | None = None
    error_message: str | None = None
    cost_ticks: int | None = None
    raw: dict[str, Any] = field(default_factory=dict)
    # When the upstream knows when to look again (pending), sooner than our schedule would.
    retry_after_s: float | None = None


@dataclass
class ProviderError(Exception):
    message: str
    retryable: bool = False
    retry_after_s: float | None = None
    code: str = "upstream_error"

    def __post_init__(self) -> None:
        super().__init__(self.message)


@dataclass
class ProviderUnavailable(ProviderError):
    retryable: bool = True
    code: str = "upstream_unavailable"


@dataclass
class ProviderMisconfigured(ProviderUnavailable):
    retryable: bool = False


@dataclass
class SubmitAmbiguous(ProviderError):
    code: str = "upstream_submit_ambiguous"


@dataclass
class ProviderRejected(ProviderError):
    code: str = "generation_failed"


@runtime_checkable
class Provider(Protocol):
    """One upstream engine.

    Optional flags, read with a default where they matter: ``submits_locally`` (False: the job
    runs inside this process, so a submit needs no ``submitting`` record before it, and never
    raises ``SubmitAmbiguous``), ``bills_jobs`` (True) and ``renders_results_from_references``
    (False).
    """

    name: str

    def unsupported(self, model: ModelContract, params: dict[str, Any]) -> str | None:
        """None when this provider can serve ``params`` for ``model``; else why not."""
        ...

    async def submit(self, job: Job) -> Submitted: ...

    async def poll(self, upstream_id: str, job: Job) -> PollOutcome: ...

    async def cancel(self, upstream_id: str) -> None:
        """Best effort; providers without upstream cancel do nothing."""
        ...

    def open_result(self, asset: ResultAsset, job: Job) -> AsyncIterator[bytes]:
        """The asset's bytes, streamed."""
        ...

    async def reconcile(self, job: Job) -> Submitted | None:
        """After a crash between 'submitting' and a recorded upstream id: find the upstream job
        if the upstream can say (client id lookup), else None."""
        ...

    async def aclose(self) -> None: ...
