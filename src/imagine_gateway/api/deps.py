"""Dependency aliases so route signatures read cleanly."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Depends, Request

from imagine_gateway.api.auth import app_context, require
from imagine_gateway.api.context import AppContext
from imagine_gateway.api.request_json import json_body
from imagine_gateway.services.principal import Principal

Ctx = Annotated[AppContext, Depends(app_context)]
CanCreate = Annotated[Principal, Depends(require("generations:create"))]
CanRead = Annotated[Principal, Depends(require("generations:read"))]
CanReadCredits = Annotated[Principal, Depends(require("credits:read"))]
CanUpload = Annotated[Principal, Depends(require("files:create"))]
CanReadFiles = Annotated[Principal, Depends(require("files:read"))]
CanManageWebhooks = Annotated[Principal, Depends(require("webhooks:manage"))]
CanManageKeys = Annotated[Principal, Depends(require("keys:manage"))]
IsAdmin = Annotated[Principal, Depends(require("admin"))]


async def read_json(request: Request) -> Any:
    """The JSON body, decoded within the limits of ``request_json``, or a clear error for a wrong
    content type, malformed JSON or a value the gateway cannot take."""
    return json_body(request.headers.get("content-type"), await request.body())
