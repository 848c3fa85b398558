"""Logs as JSON lines (or plain text), carrying the ids known where a line is written, never a secret.

Every line names ``request_id``, ``account_id``, ``dialect``, ``task_id`` and ``provider`` when
they are known: from the log call's ``extra``, else from the request being served (``bind``). Each
formatted line passes through ``redact`` last, so a key, a webhook secret, a bearer token or a
signed URL's signature that reaches a message (an upstream's error text, an exception) is cut.
"""

from __future__ import annotations

import contextvars
import json
import logging
import re
import sys
import time
from collections.abc import Iterable
from typing import Any

from imagine_gateway.settings import Settings

CONTEXT_FIELDS = ("request_id", "account_id", "dialect", "task_id", "provider")
# What a log call may add in ``extra`` and a line then shows (any other attribute stays out).
EXTRA_FIELDS = (
    *CONTEXT_FIELDS,
    "event",
    "model",
    "state",
    "from_state",
    "error_code",
    "method",
    "route",
    "path",
    "status",
    "duration_ms",
    "client",
)
_context: contextvars.ContextVar[dict[str, str] | None] = contextvars.ContextVar("log_context", default=None)

REDACTED = "[redacted]"
_PATTERNS = (
    # Our API keys and webhook secrets, xAI-style keys.
    (re.compile(r"igw_sk_[A-Za-z0-9_\-]+"), REDACTED),
    (re.compile(r"whsec_[A-Za-z0-9+/=]+"), REDACTED),
    (re.compile(r"\bxai-[A-Za-z0-9]{8,}"), REDACTED),
    (re.compile(r"\bsk-[A-Za-z0-9_\-]{8,}"), REDACTED),
    # Bearer tokens in echoed headers, and the signature parts of signed URLs (ours and S3's).
    (re.compile(r"(?i)(bearer )[^\s\"',\\]+"), rf"\1{REDACTED}"),
    (
        re.compile(
            r"(?i)([?&](?:sig|signature|x-amz-signature|x-amz-credential|x-amz-security-token)=)[^&\s\"'\\]+"
        ),
        rf"\1{REDACTED}",
    ),
)


def bind(**fields: str | None) -> None:
    """Add ids to every line logged from here on in this task (a request, a step)."""
    current = dict(_context.get() or {})
    current.update({k: v for k, v in fields.items() if v is not None})
    _context.set(current)


def clear() -> None:
    _context.set(None)


class Redactor:
    """Cuts known secret shapes, and the literal secrets it was given, out of a line."""

    def __init__(self, literals: Iterable[str] = ()) -> None:
        self.literals = sorted({s for s in literals if len(s) >= 8}, key=len, reverse=True)

    def __call__(self, text: str) -> str:
        for literal in self.literals:
            text = text.replace(literal, REDACTED)
        for pattern, replacement in _PATTERNS:
            text = pattern.sub(replacement, text)
        return text


class JsonFormatter(logging.Formatter):
    """One JSON object per line: ``ts``, ``level``, ``logger``, ``message``, the ids, ``exc``."""

    def __init__(self, redact: Redactor) -> None:
        super().__init__()
        self.redact = redact

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "ts": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
            + f".{int(record.msecs):03d}Z",
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        line.update(_context.get() or {})
        for name in EXTRA_FIELDS:
            value = record.__dict__.get(name)
            if value is not None:
                line[name] = value
        if record.exc_info:
            line["exc"] = self.formatException(record.exc_info)
        return self.redact(json.dumps(line, ensure_ascii=False, default=str))


class TextFormatter(logging.Formatter):
    """``time level logger: message [ids]``, redacted."""

    def __init__(self, redact: Redactor) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s: %(message)s")
        self.redact = redact

    def format(self, record: logging.LogRecord) -> str:
        ids = {**(_context.get() or {})}
        ids.update({n: record.__dict__[n] for n in CONTEXT_FIELDS if record.__dict__.get(n) is not None})
        text = super().format(record)
        if ids:
            text += " [" + " ".join(f"{k}={v}" for k, v in ids.items()) + "]"
        return self.redact(text)


def secrets_of(settings: Settings) -> list[str]:
    """The secrets in the settings, cut out of every line wherever they appear."""
    found = []
    for secret in (settings.xai_api_key, settings.secret_key, settings.metrics_token):
        if secret is not None:
            found.append(secret.get_secret_value())
    return found


def configure_logging(settings: Settings, *, stream: Any = None) -> logging.Handler:
    """One handler on the root logger for the whole process (uvicorn's loggers included)."""
    handler = logging.StreamHandler(stream or sys.stderr)
    redact = Redactor(secrets_of(settings))
    formatter: logging.Formatter = (
        JsonFormatter(redact) if settings.log_format == "json" else TextFormatter(redact)
    )
    handler.setFormatter(formatter)
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(settings.log_level.upper())
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        logger = logging.getLogger(name)
        logger.handlers.clear()
        logger.propagate = True
    # The gateway writes its own access line (route template, no query string: signed URLs stay out).
    logging.getLogger("uvicorn.access").disabled = True
    return handler
