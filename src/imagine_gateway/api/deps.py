"""Dependency aliases so route signatures read cleanly."""

from __future__ import annotations

import json
from typing import Annotated, Any

from fastapi import Depends, Request

from imagine_gateway.api.auth import context, require
from imagine_gateway.api.context import AppContext
from imagine_gateway.core.errors import FieldError, UnsupportedMediaType, ValidationFailed
from imagine_gateway.services.principal import Principal

Ctx = Annotated[AppContext, Depends(context)]
CanCreate = Annotated[Principal, Depends(require("generations:create"))]
CanRead = Annotated[Principal, Depends(require("generations:read"))]
CanReadCredits = Annotated[Principal, Depends(require("credits:read"))]
CanUpload = Annotated[Principal, Depends(require("files:create"))]
CanReadFiles = Annotated[Principal, Depends(require("files:read"))]
CanManageWebhooks = Annotated[Principal, Depends(require("webhooks:manage"))]


async def read_json(request: Request) -> Any:
    """The JSON body, or a clear error for a wrong content type or malformed JSON."""
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type != "application/json" and not content_type.endswith("+json"):
        raise UnsupportedMediaType(
            "The body must be JSON sent with 'Content-Type: application/json' "
            f"(got {content_type or 'none'!r})."
        )
    raw = await request.body()
    try:
        return json.loads(raw)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        where = f" at line {exc.lineno} column {exc.colno}" if isinstance(exc, json.JSONDecodeError) else ""
        raise ValidationFailed(
            f"The body is not valid JSON{where}.", [FieldError("body", f"is not valid JSON{where}")]
        ) from exc
