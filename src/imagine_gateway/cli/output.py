"""What the client commands check and print before and after talking to the gateway.

``-o`` is checked before anything is uploaded, created or charged, so a bad path costs nothing; an
error's per-field details (what was wrong, what is allowed) are printed under its one-line summary.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any


class OutputPathError(ValueError):
    """``-o`` names a place a result cannot be written to."""


def output_target(raw: str) -> Path:
    """Where a result goes: a directory, or a file in a directory that exists.

    ``raw`` is a directory when it ends with ``/`` or is an existing directory; a missing one is
    created (the result is then named after the task). Anything else is a file path whose directory
    must exist and be writable.
    """
    path = Path(raw).expanduser()
    if raw.endswith(("/", os.sep)) or path.is_dir():
        if path.exists() and not path.is_dir():
            raise OutputPathError(f"cannot write into {raw}: it exists and is not a directory")
        try:
            path.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise OutputPathError(f"cannot create the directory {raw}: {exc.strerror or exc}") from exc
        _check_writable(path, raw)
        return path
    folder = path.parent
    if not folder.exists():
        raise OutputPathError(
            f"cannot write {raw}: the directory {folder} does not exist "
            "(end the path with / to have a directory created and the result named after the task)"
        )
    if not folder.is_dir():
        raise OutputPathError(f"cannot write {raw}: {folder} is not a directory")
    _check_writable(folder, raw)
    return path


def _check_writable(folder: Path, raw: str) -> None:
    if not os.access(folder, os.W_OK | os.X_OK):
        raise OutputPathError(f"cannot write {raw}: the directory {folder} is not writable")


def detail_lines(message: str, details: list[dict[str, Any]]) -> list[str]:
    """Lines to print under the error line: one per bad field, ``field: issue (allowed: ...)``.

    A lone field that the message already names adds only ``allowed: ...``, or nothing.
    """
    if len(details) == 1 and message == f"{details[0].get('field')}: {details[0].get('issue')}":
        allowed = details[0].get("allowed")
        return [] if allowed is None else [f"allowed: {allowed_text(allowed)}"]
    lines = []
    for detail in details:
        line = f"{detail.get('field', '?')}: {detail.get('issue', 'invalid')}"
        allowed = detail.get("allowed")
        if allowed is not None:
            line += f" (allowed: {allowed_text(allowed)})"
        lines.append(line)
    return lines


def allowed_text(allowed: Any) -> str:
    """The allowed values of a field as a reader wants them: ``1:1, 16:9``, ``6..30, step 1``."""
    if isinstance(allowed, list):
        return ", ".join(str(v) for v in allowed)
    if isinstance(allowed, dict):
        if "min" in allowed and "max" in allowed and set(allowed) <= {"min", "max", "step"}:
            span = f"{allowed['min']}..{allowed['max']}"
            return span + (f", step {allowed['step']}" if "step" in allowed else "")
        if set(allowed) <= {"type", "max_length"}:
            if allowed.get("max_length") is not None:
                return f"at most {allowed['max_length']} characters"
            return f"any {allowed.get('type', 'value')}"
        return "; ".join(f"{key.replace('_', ' ')} {allowed_text(value)}" for key, value in allowed.items())
    return str(allowed)
