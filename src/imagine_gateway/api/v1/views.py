"""The native (Rivya-shaped) JSON of our objects."""

from __future__ import annotations

from typing import Any

from imagine_gateway.api.media_urls import result_view
from imagine_gateway.catalog.contract import ModelContract, ModeSpec
from imagine_gateway.core.records import Task
from imagine_gateway.core.states import is_terminal_state, public_status
from imagine_gateway.core.timefmt import iso_ms
from imagine_gateway.settings import Settings


def task_view(settings: Settings, task: Task, *, now_ms: int) -> dict[str, Any]:
    # A list page makes twenty: the state is looked up as the string the row holds, not made a
    # TaskState first (an Enum call costs as much as the rest of the lookups together).
    state = task.state
    error = None
    if task.error_code is not None:
        error = {"code": task.error_code, "message": task.error_message or ""}
    return {
        "id": task.id,
        "object": "generation",
        "status": public_status(state),
        "model": task.model,
        "prompt": task.prompt,
        "params": task.params,
        "client_request_id": task.client_request_id,
        "progress": task.progress,
        "reserved_credits": task.reserved_credits,
        "final_credits": task.final_credits,
        "created_at": iso_ms(task.created_at),
        "updated_at": iso_ms(task.updated_at),
        "completed_at": iso_ms(task.completed_at),
        "result": result_view(settings, task.result, now_ms=now_ms, expires_at=task.expires_at),
        "error": error,
        "billing": billing_view(task) if is_terminal_state(state) else None,
    }


def billing_view(task: Task) -> dict[str, Any]:
    """What an ended task cost: reserved, charged (captured), released, and why when it is not
    a plain capture or refund."""
    return {
        "reserved": task.reserved_credits,
        "charged": task.final_credits,
        "released": task.reserved_credits - task.final_credits,
        "reason": task.billing_reason,
    }


def model_view(model: ModelContract) -> dict[str, Any]:
    """Rivya's model item, with the ``params`` table filled from the catalog."""
    ref = model.reference_media
    return {
        "id": model.id,
        "object": "model",
        "display_name": model.display_name,
        "category": model.category,
        "runtime": "async_task",
        "base_credits": model.base_credits,
        "billing_type": model.billing_type,
        # PER_SECOND: base + this per second of duration; PER_IMAGE: base_credits per image (n).
        "credits_per_second": model.credits_per_second,
        # What is charged: the rule as data (fixed credits, or the usage formula's tables).
        "price": model.price_rule.as_data(),
        "supported_modes": list(model.supported_modes),
        "max_prompt_length": model.max_prompt_length,
        "reference_media": None
        if ref is None
        else {
            "max_files": ref.max_files,
            "kinds": list(ref.kinds),
            "max_bytes": dict(ref.max_bytes),
            "mime_types": {k: list(v) for k, v in ref.mime_types.items()},
        },
        "params": [
            {
                "key": p.key,
                "type": p.type,
                "required": p.required,
                "default": p.default,
                "min": p.min if p.min is None else _num(p.min),
                "max": p.max if p.max is None else _num(p.max),
                "step": p.step if p.step is None else _num(p.step),
                "options": list(p.options) if p.options is not None else None,
                "description": p.description,
            }
            for p in model.params
        ],
        "api_status": model.api_status,
        "api_input_status": "partial_requires_files" if model.requires_upload_for_modes else "available_text",
        "supported_api_inputs": list(model.supported_api_inputs),
        "requires_files_api": bool(model.requires_upload_for_modes)
        and "text" not in model.supported_api_inputs,
        "requires_upload_for_modes": list(model.requires_upload_for_modes),
        "url_input_supported": model.url_input_supported,
        "file_kinds": list(ref.kinds) if ref else [],
        "chat_capabilities": None,
        "notices": list(model.notices),
        "aliases": [a.id for a in model.aliases],
        "modes": [mode_view(m) for m in model.modes],
    }


def mode_view(mode: ModeSpec) -> dict[str, Any]:
    """One of the engine's modes of a model: the files it takes and the values it serves."""
    return {
        "name": mode.name,
        "prompt_required": mode.prompt_required,
        "roles": {role: {"min": low, "max": high} for role, (low, high) in mode.roles.items()},
        "options": {key: list(values) for key, values in mode.options.items()},
        "duration": None if mode.duration is None else {"min": mode.duration[0], "max": mode.duration[1]},
        "source_duration": None
        if mode.source_duration is None
        else {"min": mode.source_duration[0], "max": mode.source_duration[1]},
    }


def _num(value: float) -> float | int:
    return int(value) if float(value).is_integer() else value
