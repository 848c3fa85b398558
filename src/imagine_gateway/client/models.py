"""Typed views of the gateway's JSON objects.

Unknown fields are kept (``extra="allow"``), so a newer gateway that adds fields (an additive,
backward-compatible change) never breaks an older SDK.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict

TERMINAL_STATUSES = frozenset({"succeeded", "failed", "canceled"})


class _Model(BaseModel):
    model_config = ConfigDict(extra="allow", frozen=True)


class ModelParam(_Model):
    key: str
    type: str
    required: bool = False
    default: Any = None
    min: float | None = None
    max: float | None = None
    step: float | None = None
    options: list[str] | None = None
    description: str | None = None


class ReferenceMedia(_Model):
    max_files: int
    kinds: list[str]
    max_bytes: dict[str, int] = {}
    mime_types: dict[str, list[str]] = {}


class Model(_Model):
    """One model of the catalog and its parameter table."""

    id: str
    object: str = "model"
    display_name: str
    category: str
    base_credits: int
    billing_type: str
    price: dict[str, Any] | None = None
    supported_modes: list[str] = []
    max_prompt_length: int | None = None
    reference_media: ReferenceMedia | None = None
    params: list[ModelParam] = []
    api_status: str | None = None
    supported_api_inputs: list[str] = []
    notices: list[str] = []


class ResultMedia(_Model):
    url: str
    kind: str
    mime_type: str
    size_bytes: int | None = None
    sha256: str | None = None
    width: int | None = None
    height: int | None = None
    duration_seconds: float | None = None
    poster_url: str | None = None


class GenerationResult(_Model):
    primary_url: str | None = None
    urls: list[str] = []
    expired: bool = False
    media: list[ResultMedia] = []


class GenerationError(_Model):
    code: str
    message: str


class GenerationBilling(_Model):
    """What an ended task cost: ``charged`` of the ``reserved`` credits, the rest ``released``;
    ``reason`` says why when it is not a plain capture or refund."""

    reserved: int
    charged: int
    released: int
    reason: str | None = None


class Generation(_Model):
    """A generation task. ``status`` is queued, processing, succeeded, failed or canceled."""

    id: str
    object: str = "generation"
    status: str
    model: str
    prompt: str
    params: dict[str, Any] = {}
    client_request_id: str | None = None
    progress: int = 0
    reserved_credits: int = 0
    final_credits: int = 0
    created_at: datetime
    updated_at: datetime
    completed_at: datetime | None = None
    result: GenerationResult | None = None
    error: GenerationError | None = None
    billing: GenerationBilling | None = None

    @property
    def is_terminal(self) -> bool:
        """True once the task has ended (succeeded, failed or canceled)."""
        return self.status in TERMINAL_STATUSES


class PriceLine(_Model):
    """One line of a price: ``quantity`` of ``item`` at ``unit_credits`` each."""

    item: str
    quantity: float
    unit_credits: float
    credits: float


class Price(_Model):
    """What a create of a request would reserve (``client.generations.price``)."""

    object: str = "price"
    model: str
    credits: int
    breakdown: list[PriceLine] = []
    price: dict[str, Any] = {}


class File(_Model):
    """An uploaded reference file. Pass ``url`` (and ``duration_token``) in ``referenceMediaItems``."""

    id: str
    object: str = "file"
    kind: str
    name: str
    mime_type: str
    size_bytes: int
    sha256: str
    width: int | None = None
    height: int | None = None
    duration_seconds: float | None = None
    url: str
    duration_token: str | None = None
    created_at: datetime
    expires_at: datetime | None = None

    def as_reference(self) -> dict[str, Any]:
        """This file as an item of ``params["referenceMediaItems"]``."""
        item: dict[str, Any] = {
            "url": self.url,
            "kind": self.kind,
            "name": self.name,
            "mimeType": self.mime_type,
        }
        if self.duration_seconds is not None:
            item["durationSeconds"] = self.duration_seconds
        if self.duration_token is not None:
            item["durationToken"] = self.duration_token
        return item


class Credits(_Model):
    object: str = "credits"
    account_id: str
    balance: int
    reserved: int
    available: int


class WebhookEndpoint(_Model):
    """A registered endpoint. ``signing_secret`` is set only by create and rotate_secret."""

    id: str
    object: str = "webhook_endpoint"
    name: str
    url: str
    event_types: list[str]
    status: str
    secret_preview: str
    signing_secret: str | None = None
    last_success_at: datetime | None = None
    last_failure_at: datetime | None = None
    failure_count: int = 0
    created_at: datetime
    updated_at: datetime
    disabled_at: datetime | None = None
    revoked_at: datetime | None = None


class WebhookDelivery(_Model):
    """One event sent (or being retried) to one endpoint."""

    id: str
    object: str = "webhook_delivery"
    endpoint_id: str | None = None
    event_id: str
    event_type: str
    task_id: str | None = None
    url: str
    status: str  # pending | succeeded | failed
    attempts: int
    last_status_code: int | None = None
    last_error: str | None = None
    next_attempt_at: datetime | None = None
    created_at: datetime
    updated_at: datetime
    delivered_at: datetime | None = None


class WebhookEvent(_Model):
    """The signed body of a webhook: ``data`` is the task JSON for generation events."""

    id: str
    object: str = "event"
    type: str
    api_version: str | None = None
    created_at: datetime
    data: dict[str, Any]
