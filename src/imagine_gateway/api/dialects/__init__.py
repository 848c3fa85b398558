"""Dialects: other seeds' wire shapes over the same core (keys, credits, tasks).

Each adapter checks a body against its own seed's contract, creates the task through
``GenerationService`` and renders tasks and errors in its own shapes. See docs/dialects.md.
"""

from __future__ import annotations

from fastapi import FastAPI, Request

from imagine_gateway.api.dialects import grokimagineapi, videos, xai
from imagine_gateway.api.dialects.common import render_openai_error
from imagine_gateway.api.errors import register_envelope

OPENAI_STYLE_PREFIXES = ("/v1/videos", "/v1/images")


def speaks_openai_errors(request: Request) -> bool:
    """xAI, OpenAI videos and Dubrify paths: one envelope that the OpenAI SDK and xAI clients read."""
    path = request.url.path
    return any(path == p or path.startswith(p + "/") for p in OPENAI_STYLE_PREFIXES)


def install_dialects(app: FastAPI) -> None:
    """Mount every dialect's routes and register their error envelopes on ``app``."""
    app.include_router(xai.router)
    app.include_router(videos.router)
    app.include_router(grokimagineapi.router)
    register_envelope(app, speaks_openai_errors, render_openai_error)
    register_envelope(app, grokimagineapi.serves, grokimagineapi.render_error)
