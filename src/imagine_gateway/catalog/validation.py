"""Validate and normalise a generation request against a model contract.

Pure: no I/O. Collects every bad field before failing, so a client fixes its request in one go.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from imagine_gateway.catalog.contract import ROLES, ModelContract, ParamSpec
from imagine_gateway.catalog.loader import Catalog
from imagine_gateway.catalog.modes import ModeIssue, RoleUse, default_role, mode_issues
from imagine_gateway.core.errors import FieldError, ValidationFailed

CLIENT_REQUEST_ID_MAX = 128
REFERENCE_ITEM_KEYS = (
    "url",
    "kind",
    "name",
    "mimeType",
    "durationSeconds",
    "durationToken",
    "role",
    "timestampSeconds",
)


@dataclass(frozen=True)
class ReferenceItem:
    """One entry of ``params.referenceMediaItems`` after shape checks."""

    url: str
    kind: str
    name: str | None = None
    mime_type: str | None = None
    duration_s: float | None = None
    duration_token: str | None = None
    # What the file is for (catalog ``ROLES``); None: the model's default for its kind.
    role: str | None = None
    # A keyframe's place in the video, in seconds.
    timestamp_s: float | None = None

    @classmethod
    def from_public(cls, item: dict[str, Any]) -> ReferenceItem:
        """Rebuild an item stored on a task (it was checked when the task was created)."""
        return cls(
            url=item["url"],
            kind=item["kind"],
            name=item.get("name"),
            mime_type=item.get("mimeType"),
            duration_s=item.get("durationSeconds"),
            duration_token=item.get("durationToken"),
            role=item.get("role"),
            timestamp_s=item.get("timestampSeconds"),
        )

    def role_use(self, model: ModelContract) -> RoleUse:
        """This item as the mode rules see it."""
        return RoleUse(
            role=self.role or default_role(model, self.kind),
            kind=self.kind,
            timestamp_s=self.timestamp_s,
            duration_s=self.duration_s,
        )

    def as_public(self) -> dict[str, Any]:
        out: dict[str, Any] = {"url": self.url, "kind": self.kind}
        if self.name is not None:
            out["name"] = self.name
        if self.mime_type is not None:
            out["mimeType"] = self.mime_type
        if self.duration_s is not None:
            out["durationSeconds"] = self.duration_s
        if self.duration_token is not None:
            out["durationToken"] = self.duration_token
        if self.role is not None:
            out["role"] = self.role
        if self.timestamp_s is not None:
            out["timestampSeconds"] = self.timestamp_s
        return out


@dataclass(frozen=True)
class GenerationRequest:
    """A request that passed the contract: params normalised and defaults filled in."""

    model: ModelContract
    prompt: str
    params: dict[str, Any]
    references: tuple[ReferenceItem, ...] = ()
    client_request_id: str | None = None
    webhook_url: str | None = None

    def public_params(self) -> dict[str, Any]:
        out = dict(self.params)
        if self.references:
            out["referenceMediaItems"] = [r.as_public() for r in self.references]
        return out


@dataclass
class _Errors:
    items: list[FieldError] = field(default_factory=list)

    def add(self, name: str, issue: str, allowed: Any = None) -> None:
        self.items.append(FieldError(name, issue, allowed))

    def raise_if_any(self) -> None:
        if self.items:
            first = self.items[0]
            more = f" (and {len(self.items) - 1} more)" if len(self.items) > 1 else ""
            raise ValidationFailed(f"{first.field}: {first.issue}{more}", list(self.items))


def validate_generation(
    catalog: Catalog,
    body: Any,
    *,
    extra_top_level: frozenset[str] = frozenset(),
) -> GenerationRequest:
    """Check a native create body (``model``, ``prompt``, ``params``, ``client_request_id``)."""
    errors = _Errors()
    if not isinstance(body, dict):
        raise ValidationFailed(
            "body: must be a JSON object",
            [FieldError("body", "must be a JSON object", None)],
        )
    allowed_top = {"model", "prompt", "params", "client_request_id", "webhook_url"} | extra_top_level
    for key in body:
        if key not in allowed_top:
            errors.add(key, "unknown field", sorted(allowed_top))

    model_id = body.get("model")
    model: ModelContract | None = None
    pinned: dict[str, str | int] = {}
    if model_id is None:
        errors.add("model", "is required", catalog.ids)
    elif not isinstance(model_id, str):
        errors.add("model", "must be a string", catalog.ids)
    else:
        resolved = catalog.resolve(model_id)
        if resolved is None:
            errors.add("model", f"unknown model '{model_id}'", catalog.ids)
        else:
            model, pinned = resolved

    client_request_id = body.get("client_request_id")
    if client_request_id is not None and (
        not isinstance(client_request_id, str) or len(client_request_id) > CLIENT_REQUEST_ID_MAX
    ):
        errors.add("client_request_id", f"must be a string of at most {CLIENT_REQUEST_ID_MAX} characters")
        client_request_id = None

    webhook_url = body.get("webhook_url")
    if webhook_url is not None and not isinstance(webhook_url, str):
        errors.add("webhook_url", "must be a string")
        webhook_url = None

    raw_params = body.get("params", {})
    if raw_params is None:
        raw_params = {}
    if not isinstance(raw_params, dict):
        errors.add("params", "must be a JSON object", model.param_keys if model else None)
        raw_params = {}

    prompt = body.get("prompt")
    if model is None:
        errors.raise_if_any()
        raise AssertionError("unreachable: a missing model is always an error")

    if model.seed_contract and _names_roles(raw_params.get("referenceMediaItems")):
        # Files that say what they are for ask for the engine's modes (references, edits...),
        # beyond the seed's single reference: the engine's file policy and params apply.
        model = model.for_engine()
    prompt_text = _check_prompt(model, prompt, errors)
    params = _check_params(model, raw_params, errors)
    # A retired id served by its successor at pinned settings (xAI's -quality is 2.0 at low).
    params.update(pinned)
    references = _check_references(model, raw_params.get("referenceMediaItems"), errors)
    if not model.seed_contract and not errors.items:
        # xAI's ids: the engine's per-mode rules are their contract. (A seed's contract is its
        # table; the engine's rules for it are a provider's capability, checked at routing.)
        _, issues = mode_issues(model, params, [r.role_use(model) for r in references], prompt=prompt_text)
        for issue in issues:
            errors.add(native_field(issue), issue.message, issue.allowed)
    errors.raise_if_any()
    return GenerationRequest(
        model=model,
        prompt=prompt_text,
        params=params,
        references=references,
        client_request_id=client_request_id,
        webhook_url=webhook_url,
    )


def _names_roles(items: Any) -> bool:
    return isinstance(items, list) and any(isinstance(i, dict) and i.get("role") is not None for i in items)


def native_field(issue: ModeIssue) -> str:
    """Where a mode rule's issue sits in a native request."""
    if issue.kind == "param":
        return f"params.{issue.key}"
    if issue.kind == "prompt":
        return "prompt"
    items = "params.referenceMediaItems"
    if issue.index is None:
        return items
    suffix = ".timestampSeconds" if issue.kind == "timestamp" else ".role"
    if issue.kind == "source_duration":
        suffix = ".durationSeconds"
    return f"{items}[{issue.index}]{suffix}"


def _check_prompt(model: ModelContract, prompt: Any, errors: _Errors) -> str:
    limit = {"max_length": model.max_prompt_length}
    if prompt is None:
        if model.prompt_required:
            errors.add("prompt", "is required", limit)
        return ""
    if not isinstance(prompt, str):
        errors.add("prompt", "must be a string", limit)
        return ""
    if model.prompt_required and not prompt.strip():
        errors.add("prompt", "must not be empty", limit)
    if len(prompt) > model.max_prompt_length:
        errors.add("prompt", f"is {len(prompt)} characters; the limit is {model.max_prompt_length}", limit)
    return prompt


def _check_params(model: ModelContract, raw: dict[str, Any], errors: _Errors) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key in raw:
        if key == "referenceMediaItems" and model.reference_media is not None:
            continue
        if model.param(key) is None:
            errors.add(f"params.{key}", "unknown parameter", model.param_keys)
    for spec in model.params:
        if spec.key in raw and raw[spec.key] is not None:
            value = normalise_param(spec, raw[spec.key])
            if isinstance(value, _Bad):
                errors.add(f"params.{spec.key}", value.issue, spec.allowed())
            else:
                out[spec.key] = value
        elif spec.required:
            errors.add(f"params.{spec.key}", "is required", spec.allowed())
        elif spec.default is not None:
            out[spec.key] = spec.default
    return out


@dataclass(frozen=True)
class _Bad:
    issue: str


def normalise_param(spec: ParamSpec, value: Any) -> Any:
    """The canonical value of one parameter, or ``_Bad`` saying what is wrong."""
    if spec.type == "select":
        text = _select_text(value)
        if text is None:
            return _Bad("must be one of the options")
        if text not in (spec.options or ()):
            return _Bad(f"'{text}' is not one of the options")
        return text
    if spec.type == "number":
        number = _as_number(value)
        if number is None:
            return _Bad(f"must be a number, got {_describe(value)}")
        if spec.min is not None and number < spec.min:
            return _Bad(f"{_fmt(number)} is below the minimum {_fmt(spec.min)}")
        if spec.max is not None and number > spec.max:
            return _Bad(f"{_fmt(number)} is above the maximum {_fmt(spec.max)}")
        if spec.step is not None:
            base = spec.min if spec.min is not None else 0.0
            steps = (number - base) / spec.step
            # Whole steps from a whole base (durations) are exact: 6.0000000001 is not 6. Only a
            # fractional step gets the tolerance its binary rounding needs.
            whole = float(spec.step).is_integer() and float(base).is_integer()
            if not (steps.is_integer() if whole else math.isclose(steps, round(steps), abs_tol=1e-9)):
                return _Bad(f"{_fmt(number)} is not a multiple of {_fmt(spec.step)} from {_fmt(base)}")
        return int(number) if float(number).is_integer() else number
    if not isinstance(value, str):
        return _Bad("must be a string")
    if spec.max_length is not None and len(value) > spec.max_length:
        return _Bad(f"is longer than {spec.max_length} characters")
    return value


def _select_text(value: Any) -> str | None:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return value
    if isinstance(value, int | float):
        return _fmt(value)
    return None


def _as_number(value: Any) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        number = float(value)
    elif isinstance(value, str):
        try:
            number = float(value.strip())
        except ValueError:
            return None
    else:
        return None
    return number if math.isfinite(number) else None


def _fmt(number: float) -> str:
    return str(int(number)) if float(number).is_integer() else repr(float(number))


def _describe(value: Any) -> str:
    if isinstance(value, str):
        return f"'{value[:40]}'"
    return type(value).__name__ if not isinstance(value, bool) else "a boolean"


def _check_references(model: ModelContract, raw: Any, errors: _Errors) -> tuple[ReferenceItem, ...]:
    if raw is None or model.reference_media is None:
        return ()
    policy = model.reference_media
    name = "params.referenceMediaItems"
    if not isinstance(raw, list):
        errors.add(name, "must be an array of reference items", list(REFERENCE_ITEM_KEYS))
        return ()
    if len(raw) > policy.max_files:
        errors.add(
            name,
            f"has {len(raw)} items; this model accepts at most {policy.max_files}",
            {"max_files": policy.max_files, "kinds": list(policy.kinds)},
        )
        return ()
    items: list[ReferenceItem] = []
    for index, item in enumerate(raw):
        where = f"{name}[{index}]"
        if not isinstance(item, dict):
            errors.add(where, "must be an object", list(REFERENCE_ITEM_KEYS))
            continue
        unknown = [k for k in item if k not in REFERENCE_ITEM_KEYS]
        if unknown:
            errors.add(f"{where}.{unknown[0]}", "unknown field", list(REFERENCE_ITEM_KEYS))
        url, kind = item.get("url"), item.get("kind")
        if not isinstance(url, str) or not url:
            errors.add(f"{where}.url", "is required and must be a string")
            continue
        if kind not in policy.kinds:
            errors.add(f"{where}.kind", f"'{kind}' is not accepted by this model", list(policy.kinds))
            continue
        duration = item.get("durationSeconds")
        if duration is not None and _as_number(duration) is None:
            errors.add(f"{where}.durationSeconds", "must be a number")
            duration = None
        token = item.get("durationToken")
        if token is not None and not isinstance(token, str):
            errors.add(f"{where}.durationToken", "must be a string")
            token = None
        role = item.get("role")
        if role is not None and role not in ROLES:
            errors.add(f"{where}.role", f"'{role}' is not a role", list(ROLES))
            role = None
        stamp = item.get("timestampSeconds")
        if stamp is not None and _as_number(stamp) is None:
            errors.add(f"{where}.timestampSeconds", "must be a number")
            stamp = None
        items.append(
            ReferenceItem(
                url=url,
                kind=str(kind),
                name=item.get("name") if isinstance(item.get("name"), str) else None,
                mime_type=item.get("mimeType") if isinstance(item.get("mimeType"), str) else None,
                duration_s=_as_number(duration) if duration is not None else None,
                duration_token=token,
                role=role,
                timestamp_s=_as_number(stamp) if stamp is not None else None,
            )
        )
    return tuple(items)
