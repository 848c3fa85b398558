"""The OpenAPI document, with request schemas derived from the model catalog.

Served at ``/api/v1/openapi.json`` (the app's ``openapi_url``) and at ``/openapi.json``, where tools
look for it first.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi
from starlette.responses import Response

from imagine_gateway.api.json_body import json_bytes
from imagine_gateway.catalog.contract import ROLES, ModelContract, ParamSpec
from imagine_gateway.catalog.loader import Catalog

ROOT_SPEC_URL = "/openapi.json"


def param_schema(spec: ParamSpec) -> dict[str, Any]:
    if spec.type == "select":
        return {
            "type": "string",
            "enum": list(spec.options or ()),
            "default": spec.default,
            "description": spec.description,
        }
    if spec.type == "number":
        out: dict[str, Any] = {"type": "number", "default": spec.default, "description": spec.description}
        if spec.min is not None:
            out["minimum"] = spec.min
        if spec.max is not None:
            out["maximum"] = spec.max
        if spec.step is not None:
            out["multipleOf"] = spec.step
        return out
    return {"type": "string", "maxLength": spec.max_length, "description": spec.description}


def model_request_schema(model: ModelContract) -> dict[str, Any]:
    params: dict[str, Any] = {p.key: param_schema(p) for p in model.params}
    if model.reference_media is not None:
        params["referenceMediaItems"] = {
            "type": "array",
            "maxItems": model.reference_media.max_files,
            "items": {"$ref": "#/components/schemas/ReferenceMediaItem"},
        }
    return {
        "type": "object",
        "title": f"GenerationCreate[{model.id}]",
        "required": ["model", "prompt"] if model.prompt_required else ["model"],
        "additionalProperties": False,
        "properties": {
            "model": (
                {"type": "string", "enum": [model.id, *(a.id for a in model.aliases)]}
                if model.aliases
                else {"type": "string", "const": model.id}
            ),
            "prompt": {"type": "string", "maxLength": model.max_prompt_length},
            "params": {
                "type": "object",
                "additionalProperties": False,
                "properties": params,
                "required": [p.key for p in model.params if p.required],
            },
            "client_request_id": {"type": "string", "maxLength": 128},
            "webhook_url": {"type": "string", "format": "uri"},
        },
    }


def install_openapi(app: FastAPI, catalog: Catalog) -> None:
    def build() -> dict[str, Any]:
        if app.openapi_schema:
            return app.openapi_schema
        doc = get_openapi(
            title="Imagine Gateway API",
            version="1",
            routes=app.routes,
            description="Grok Imagine image and video generation (native API v1 and compatible dialects).",
        )
        schemas = doc.setdefault("components", {}).setdefault("schemas", {})
        schemas["ReferenceMediaItem"] = {
            "type": "object",
            "required": ["url", "kind"],
            "properties": {
                "url": {"type": "string"},
                "kind": {"type": "string", "enum": ["image", "video", "audio"]},
                "name": {"type": "string"},
                "mimeType": {"type": "string"},
                "durationSeconds": {"type": "number"},
                "durationToken": {"type": "string"},
                "role": {"type": "string", "enum": list(ROLES)},
                "timestampSeconds": {"type": "number"},
            },
        }
        variants = []
        for model in catalog:
            name = "GenerationCreate_" + "".join(c if c.isalnum() else "_" for c in model.id)
            schemas[name] = model_request_schema(model)
            variants.append({"$ref": f"#/components/schemas/{name}"})
        schemas["GenerationCreate"] = {"oneOf": variants, "discriminator": {"propertyName": "model"}}
        doc["components"].setdefault("securitySchemes", {})["bearerAuth"] = {
            "type": "http",
            "scheme": "bearer",
        }
        doc["security"] = [{"bearerAuth": []}]
        app.openapi_schema = doc
        return doc

    app.openapi = build  # type: ignore[method-assign]
    rendered: list[bytes] = []

    async def spec() -> Response:
        # Rendered once: FastAPI's own route would encode the whole document on every request.
        if not rendered:
            rendered.append(json_bytes(app.openapi()))
        return Response(rendered[0], media_type="application/json")

    app.router.routes[:] = [r for r in app.router.routes if getattr(r, "path", None) != app.openapi_url]
    for url in (app.openapi_url, ROOT_SPEC_URL):
        if url:
            app.add_api_route(url, spec, methods=["GET"], include_in_schema=False)
