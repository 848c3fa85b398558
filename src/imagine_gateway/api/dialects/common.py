"""What every dialect adapter shares: models, core requests, task reads, waiting, the OpenAI envelope.

A dialect checks a body against its own seed's contract, then hands the core a ``GenerationRequest``
built here: params in the catalog's keys (catalog defaults for the ones the dialect does not have),
references as ``ReferenceItem``s. The native range check is not run on purpose: whether a provider
can serve the exact params is asked by ``GenerationService.create`` (``router.check``).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import Any

from starlette.responses import JSONResponse, Response

from imagine_gateway.api.context import AppContext
from imagine_gateway.api.media_urls import result_view
from imagine_gateway.catalog.contract import ModelContract
from imagine_gateway.catalog.loader import Catalog
from imagine_gateway.catalog.validation import GenerationRequest, ReferenceItem
from imagine_gateway.core.errors import GatewayError, NotFound, ValidationFailed, invalid
from imagine_gateway.core.records import Task
from imagine_gateway.core.states import TaskState
from imagine_gateway.services.principal import Principal

Body = Mapping[str, Any]
SYNC_POLL_S = 1.0  # a synchronous call re-reads its task at least this often


class SyncWaitTimeout(GatewayError):
    """A synchronous call whose task did not end in time (the task itself goes on)."""

    code = "timeout"
    status = 504


class GenerationFailed(GatewayError):
    """A synchronous call whose task failed; the message carries the task's own error."""

    code = "generation_failed"
    status = 500


# --- bodies ------------------------------------------------------------------------------------


def json_object(body: Any) -> Body:
    """The body as an object, or ``validation_failed`` on ``body``."""
    if not isinstance(body, dict):
        raise invalid("body", "must be a JSON object")
    return body


def required_text(body: Body, name: str, *, allowed: Any = None) -> str:
    """A required, non-blank string field."""
    value = body.get(name)
    if value is None:
        raise invalid(name, "is required", allowed)
    if not isinstance(value, str):
        raise invalid(name, "must be a string", allowed)
    if not value.strip():
        raise invalid(name, "must not be empty", allowed)
    return value


def optional_text(body: Body, name: str) -> str | None:
    value = body.get(name)
    if value is None:
        return None
    if not isinstance(value, str):
        raise invalid(name, "must be a string")
    return value


def choice(body: Body, name: str, options: Iterable[str], *, default: str) -> str:
    """One of ``options`` (case-insensitive), or the default when absent."""
    allowed = list(options)
    value = body.get(name)
    if value is None:
        return default
    if not isinstance(value, str):
        raise invalid(name, "must be a string", allowed)
    for option in allowed:
        if value.strip().lower() == option.lower():
            return option
    raise invalid(name, f"'{value[:40]}' is not one of the options", allowed)


def whole_number(body: Body, name: str, *, low: int, high: int, default: int) -> int:
    """A whole number in ``[low, high]``; numeric strings ("8") are accepted, as xAI does."""
    value = body.get(name)
    bounds = {"min": low, "max": high}
    if value is None:
        return default
    number: float | None = None
    if isinstance(value, int | float) and not isinstance(value, bool):
        number = float(value)
    elif isinstance(value, str):
        with contextlib.suppress(ValueError):
            number = float(value.strip())
    if number is None or not number.is_integer():
        raise invalid(name, "must be a whole number", bounds)
    if not low <= number <= high:
        raise invalid(name, f"{int(number)} is outside {low}..{high}", bounds)
    return int(number)


def one_of_aliases(body: Body, *names: str) -> str | None:
    """The one field of ``names`` the body uses; two of them at once is an error."""
    present = [n for n in names if body.get(n) is not None]
    if len(present) > 1:
        raise invalid(present[1], f"give either {present[0]} or {present[1]}, not both")
    return present[0] if present else None


def refuse_fields(body: Body, names: Iterable[str]) -> None:
    """Fields of the seed's contract this gateway cannot honour: refused, never silently dropped."""
    for name in names:
        if body.get(name) is not None:
            raise invalid(name, "is not supported by this gateway")


def image_url(value: Any, name: str) -> str:
    """The URL of an xAI/OpenAI image reference: ``{"url"}``, ``{"image_url"}`` or a plain string."""
    if isinstance(value, str) and value:
        return value
    if isinstance(value, dict):
        for key in ("url", "image_url"):
            url = value.get(key)
            if isinstance(url, str) and url:
                return url
        if value.get("file_id") is not None:
            raise invalid(
                f"{name}.file_id",
                "is not supported; pass the url of a file uploaded to POST /api/v1/files instead",
                ["url"],
            )
    raise invalid(f"{name}.url", "is required and must be a string", ["url"])


def image_reference(url: str) -> ReferenceItem:
    return ReferenceItem(url=url, kind="image")


# --- models and requests -----------------------------------------------------------------------


def find_model(catalog: Catalog, model_id: str, *, output: str, name: str = "model") -> ModelContract:
    """The catalog model a dialect's model id names (its catalog id or its upstream id)."""
    candidates = [m for m in catalog if m.output == output]
    for model in candidates:
        if model_id == model.id:
            return model
    for model in candidates:
        if model_id == model.upstream_model:
            return model
    allowed = sorted({m.id for m in candidates} | {m.upstream_model for m in candidates})
    raise invalid(name, f"unknown {output} model '{model_id[:100]}'", allowed)


def build_request(
    model: ModelContract,
    prompt: str,
    params: Mapping[str, Any],
    *,
    references: tuple[ReferenceItem, ...] = (),
    reference_field: str = "image",
) -> GenerationRequest:
    """A core request: ``params`` kept in the catalog's keys, the catalog's defaults for the rest."""
    if len(prompt) > model.max_prompt_length:
        raise invalid(
            "prompt",
            f"is {len(prompt)} characters; the limit is {model.max_prompt_length}",
            {"max_length": model.max_prompt_length},
        )
    policy = model.reference_media
    if references and (policy is None or len(references) > policy.max_files):
        limit = 0 if policy is None else policy.max_files
        raise invalid(
            reference_field,
            f"has {len(references)} reference(s); {model.id} accepts at most {limit}",
            {"max_files": limit},
        )
    out: dict[str, Any] = {}
    for spec in model.params:
        value = params.get(spec.key)
        if value is None:
            value = spec.default
        if value is not None:
            out[spec.key] = value
    return GenerationRequest(model=model, prompt=prompt, params=out, references=references)


async def create_task(
    ctx: AppContext,
    principal: Principal,
    request: GenerationRequest,
    *,
    dialect: str,
    idempotency_key: str | None,
) -> Task:
    """Create through the core (credits, idempotency, provider check) and wake the local worker."""
    created = await ctx.generations.create(
        principal, request, idempotency_key=idempotency_key, dialect=dialect
    )
    if ctx.worker is not None and not created.replayed:
        ctx.worker.wake_for_submissions()
    return created.task


async def create_tasks(
    ctx: AppContext,
    principal: Principal,
    request: GenerationRequest,
    *,
    count: int,
    dialect: str,
    idempotency_key: str | None,
) -> list[Task]:
    """``count`` tasks of one request, all or none (one transaction); a key ``K`` becomes ``K#i``
    for each of several tasks."""
    keys: list[str | None] = [idempotency_key]
    if count != 1:
        keys = [None if idempotency_key is None else f"{idempotency_key}#{i}" for i in range(count)]
    created = await ctx.generations.create_many(principal, request, idempotency_keys=keys, dialect=dialect)
    if ctx.worker is not None and not all(c.replayed for c in created):
        ctx.worker.wake_for_submissions()
    return [c.task for c in created]


async def read_task(
    ctx: AppContext, principal: Principal, task_id: str, *, output: str | None = None
) -> Task:
    """The caller's task; ``not_found`` also when it is not of the ``output`` kind asked for."""
    task = await ctx.generations.get(principal, task_id)
    if output is not None:
        model = ctx.catalog.get(task.model)
        if model is None or model.output != output:
            raise NotFound(f"No {output} with id {task_id} was found.")
    return task


async def wait_until_ended(ctx: AppContext, principal: Principal, task_id: str, *, deadline: float) -> Task:
    """The task once it ended (watched through its events, re-read at least every second), or
    ``timeout`` once ``deadline`` (event-loop time) passes."""
    watch = ctx.generations.watch(principal, task_id, poll_s=SYNC_POLL_S, deadline=deadline)
    async with contextlib.aclosing(watch) as snapshots:
        async for snapshot in snapshots:
            if snapshot.task.task_state.is_terminal:
                return snapshot.task
    raise SyncWaitTimeout(
        f"The task {task_id} did not finish within {ctx.settings.sync_wait_timeout_s:g} s; "
        f"it is still running: GET /v1/images/{task_id} or /api/v1/generations/{task_id}."
    )


# --- task views --------------------------------------------------------------------------------


def unix_s(epoch_ms: int | None) -> int | None:
    return None if epoch_ms is None else epoch_ms // 1000


def iso_s(epoch_ms: int) -> str:
    """``2024-01-01T00:00:00Z``: second precision, as grokimagineapi shows it."""
    return datetime.fromtimestamp(epoch_ms / 1000, tz=UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def result_media(ctx: AppContext, task: Task) -> list[dict[str, Any]] | None:
    """The result's media (signed URLs, probes); ``None`` when there is none or it expired."""
    view = result_view(ctx.settings, task.result, now_ms=ctx.clock.now_ms(), expires_at=task.expires_at)
    if view is None or view["expired"]:
        return None
    media: list[dict[str, Any]] = view["media"]
    return media


def result_expired(ctx: AppContext, task: Task) -> bool:
    return task.task_state is TaskState.SUCCEEDED and result_media(ctx, task) is None


def task_error(task: Task) -> dict[str, str] | None:
    if task.error_code is None:
        return None
    return {"code": task.error_code, "message": task.error_message or ""}


def whole_seconds(value: Any) -> int | None:
    if isinstance(value, int | float) and not isinstance(value, bool):
        return round(value)
    return None


# --- the OpenAI-style error envelope (xAI, OpenAI videos, Dubrify) -----------------------------

_OPENAI_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    402: "insufficient_quota",
    403: "permission_error",
    429: "rate_limit_error",
}


def error_message(exc: GatewayError) -> str:
    """The message, with the field details it does not already say (e.g. what providers can serve)."""
    extra = [f"{d.field}: {d.issue}" for d in exc.details if d.field not in exc.message]
    allowed = [d.allowed for d in exc.details if d.allowed is not None]
    text = exc.message if not extra else f"{exc.message} ({'; '.join(extra)})"
    if allowed and isinstance(exc, ValidationFailed):
        text = f"{text.rstrip('.')}; allowed: {allowed[0]}"
    return text


def render_openai_error(exc: GatewayError, request_id: str) -> Response:
    """``{"error": {"message", "type", "param", "code"}}``: what the OpenAI SDK reads, and xAI sends."""
    kind = _OPENAI_TYPES.get(exc.status, "server_error" if exc.status >= 500 else "invalid_request_error")
    error: dict[str, Any] = {
        "message": error_message(exc),
        "type": kind,
        "param": exc.details[0].field if exc.details else None,
        "code": exc.code,
    }
    if exc.details:
        error["details"] = [d.as_dict() for d in exc.details]
    error["request_id"] = request_id
    return JSONResponse({"error": error}, status_code=exc.status)
