"""Which mode a request is in, and what that mode's rules say about it (pure).

A model's ``modes`` (models.toml) are the engine's rules: the reference files each mode takes, by
role, the values it serves, its duration range and whether it needs a prompt. The native validation
(for xAI's ids), the xai provider (for the seeds' ids) and the xAI dialect all ask this module, so a
rule has one home. Issues name what is wrong in the engine's terms (a param key or a role); each
caller words the field in its own shape.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from imagine_gateway.catalog.contract import ROLE_KINDS, ModelContract, ModeSpec

IssueKind = Literal["combination", "role", "prompt", "param", "timestamp", "source_duration"]


@dataclass(frozen=True)
class RoleUse:
    """One reference file as the mode rules see it."""

    role: str
    kind: str
    timestamp_s: float | None = None
    duration_s: float | None = None


@dataclass(frozen=True)
class ModeIssue:
    """One rule a request breaks.

    ``key`` is a param key (kind ``param``), a role (``role``, ``timestamp``, ``source_duration``;
    ``index`` is then the file's position in the request) or empty. ``precondition`` marks what xAI
    answers with ``failed_precondition`` (a value this model or mode does not serve) rather than
    ``invalid_argument``.
    """

    kind: IssueKind
    key: str
    message: str
    allowed: Any = None
    index: int | None = None
    precondition: bool = False


def default_role(model: ModelContract, kind: str) -> str:
    """The role of a reference file that does not say: what the seeds' single reference meant."""
    if model.output == "image":
        return "source"
    return {"image": "first_frame", "audio": "audio", "video": "edit"}.get(kind, "first_frame")


def select_mode(model: ModelContract, roles: Sequence[str]) -> ModeSpec | None:
    """The first mode that admits every role given and whose ``requires_any`` is met."""
    given = set(roles)
    for mode in model.modes:
        if not given <= set(mode.roles):
            continue
        if mode.requires_any and not given & set(mode.requires_any):
            continue
        return mode
    return None


def mode_issues(
    model: ModelContract,
    params: Mapping[str, Any],
    uses: Sequence[RoleUse],
    *,
    prompt: str | None,
) -> tuple[ModeSpec | None, list[ModeIssue]]:
    """The request's mode and every rule of it the request breaks (no modes: nothing to check)."""
    if not model.modes:
        return None, []
    issues: list[ModeIssue] = []
    for index, use in enumerate(uses):
        if ROLE_KINDS.get(use.role) != use.kind:
            issues.append(
                ModeIssue(
                    "role",
                    use.role,
                    f"a {use.role} must be {ROLE_KINDS.get(use.role, 'a known role')}, not {use.kind}",
                    index=index,
                )
            )
    mode = select_mode(model, [u.role for u in uses])
    if mode is None:
        combos = {m.name: sorted(m.roles) for m in model.modes}
        given = sorted({u.role for u in uses})
        issues.append(
            ModeIssue(
                "combination",
                "",
                f"{model.id} has no mode that takes {' + '.join(given)} together",
                combos,
                precondition=True,
            )
        )
        return None, issues
    for role, (low, high) in mode.roles.items():
        count = sum(1 for u in uses if u.role == role)
        if not low <= count <= high:
            issues.append(
                ModeIssue(
                    "role",
                    role,
                    f"{mode.name} takes {low} to {high} {role} file(s), got {count}",
                    {"min": low, "max": high},
                )
            )
    if mode.prompt_required and not (prompt or "").strip():
        issues.append(ModeIssue("prompt", "prompt", f"is required for {mode.name}"))
    issues += _param_issues(model, mode, params)
    issues += _file_issues(mode, params, uses)
    return mode, issues


def _param_issues(model: ModelContract, mode: ModeSpec, params: Mapping[str, Any]) -> list[ModeIssue]:
    issues: list[ModeIssue] = []
    for key, served in mode.options.items():
        value = params.get(key)
        if key not in mode.ignores and value is not None and str(value) not in served:
            issues.append(
                ModeIssue(
                    "param",
                    key,
                    f"'{value}' is not served by {model.id} for {mode.name} (serves {', '.join(served)})",
                    list(served),
                    precondition=True,
                )
            )
    duration = params.get("duration")
    if mode.duration is not None and "duration" not in mode.ignores and duration is not None:
        low, high = mode.duration
        if not low <= float(duration) <= high:
            issues.append(
                ModeIssue(
                    "param",
                    "duration",
                    f"{_num(duration)} is outside {low}..{high} for {mode.name} on {model.id}",
                    {"min": low, "max": high},
                )
            )
    return issues


def _file_issues(mode: ModeSpec, params: Mapping[str, Any], uses: Sequence[RoleUse]) -> list[ModeIssue]:
    issues: list[ModeIssue] = []
    duration = params.get("duration")
    for index, use in enumerate(uses):
        if use.role == "keyframe":
            t = use.timestamp_s
            if t is None:
                issues.append(ModeIssue("timestamp", use.role, "a keyframe needs its timestamp", index=index))
            elif duration is not None and not 0 < t < float(duration):
                issues.append(
                    ModeIssue(
                        "timestamp",
                        use.role,
                        f"{_num(t)} s is not inside the video (0 < t < {_num(duration)})",
                        {"exclusiveMinimum": 0, "exclusiveMaximum": duration},
                        index=index,
                    )
                )
        elif use.timestamp_s is not None:
            issues.append(ModeIssue("timestamp", use.role, "only a keyframe takes a timestamp", index=index))
        if mode.source_duration is not None and use.role in ("edit", "extend") and use.duration_s is not None:
            low, high = mode.source_duration
            if not low <= use.duration_s <= high:
                issues.append(
                    ModeIssue(
                        "source_duration",
                        use.role,
                        f"the input video is {_num(use.duration_s)} s; {mode.name} takes {_num(low)} to "
                        f"{_num(high)} s",
                        {"min": low, "max": high},
                        index=index,
                    )
                )
    return issues


def _num(value: Any) -> str:
    number = float(value)
    return str(int(number)) if number.is_integer() else f"{number:g}"
