"""The two small servers `bench/api.py` starts beside the systems it measures, each in its own process.

- ``bare``: the ceiling. A bare FastAPI app on the same uvicorn settings as ``imagine serve``
  (httptools, uvloop, no access log): ``GET /small`` answers a small JSON object and ``POST /echo``
  decodes a JSON body and answers a small JSON object, through FastAPI's own routing.
- ``mock``: the loopback upstream LiteLLM relays to. OpenAI-style ``POST /v1/videos`` (a queued video
  job) and ``POST /v1/images/generations`` (one image URL), answered at once.

    python bench/api_apps.py bare --port 8101
    python bench/api_apps.py mock --port 8102
"""

from __future__ import annotations

import argparse
import itertools
import time
from typing import Any

import uvicorn
from fastapi import FastAPI, Request

_ids = itertools.count(1)


def bare_app() -> FastAPI:
    """The framework's ceiling: routing, a dependency-free handler, JSON in and out."""
    app = FastAPI()

    @app.get("/small")
    async def small() -> dict[str, Any]:
        return {"id": "gen_0123456789abcdef", "object": "generation", "status": "queued", "progress": 0}

    @app.post("/echo", status_code=202)
    async def echo(request: Request) -> dict[str, Any]:
        body = await request.json()
        return {"id": f"gen_{next(_ids):016x}", "object": "generation", "model": body.get("model")}

    return app


def mock_app() -> FastAPI:
    """What LiteLLM relays to: OpenAI's video and image creation, answered without delay."""
    app = FastAPI()

    @app.post("/v1/videos")
    async def create_video(request: Request) -> dict[str, Any]:
        form_or_json: dict[str, Any] = {}
        if request.headers.get("content-type", "").startswith("application/json"):
            form_or_json = await request.json()
        else:
            form_or_json = dict(await request.form())
        return {
            "id": f"video_{next(_ids):024x}",
            "object": "video",
            "model": form_or_json.get("model", "sora-2"),
            "status": "queued",
            "progress": 0,
            "created_at": int(time.time()),
            "seconds": str(form_or_json.get("seconds", "4")),
            "size": form_or_json.get("size", "720x1280"),
        }

    @app.post("/v1/images/generations")
    async def create_image(request: Request) -> dict[str, Any]:
        await request.body()
        return {"created": int(time.time()), "data": [{"url": "http://127.0.0.1/mock/image.png"}]}

    return app


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("app", choices=["bare", "mock"])
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args()
    app = bare_app() if args.app == "bare" else mock_app()
    uvicorn.run(
        app,
        host="127.0.0.1",
        port=args.port,
        http="httptools",
        loop="uvloop",
        log_level="warning",
        access_log=False,
    )


if __name__ == "__main__":
    main()
