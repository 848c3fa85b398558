"""The FastAPI application factory."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

from fastapi import FastAPI

from imagine_gateway.api import media_routes
from imagine_gateway.api.console_routes import install_console
from imagine_gateway.api.context import AppContext
from imagine_gateway.api.cors import install_cors
from imagine_gateway.api.dialects import install_dialects
from imagine_gateway.api.docs_pages import install_docs
from imagine_gateway.api.errors import install_error_handlers
from imagine_gateway.api.middleware import BodyLimitMiddleware, RequestContextMiddleware
from imagine_gateway.api.openapi import install_openapi
from imagine_gateway.api.ratelimit import RateLimiter
from imagine_gateway.api.v1 import catalog as catalog_routes
from imagine_gateway.api.v1 import files as file_routes
from imagine_gateway.api.v1 import generations as generation_routes
from imagine_gateway.api.v1 import webhooks as webhook_routes
from imagine_gateway.api.v1.views import task_view
from imagine_gateway.catalog.loader import load_catalog
from imagine_gateway.core.clock import Clock, SystemClock
from imagine_gateway.core.records import Task
from imagine_gateway.delivery.events import MemoryEventBus
from imagine_gateway.delivery.redis_events import RedisEventBus
from imagine_gateway.media.storage import open_storage
from imagine_gateway.providers.registry import build_router, uses_sandbox
from imagine_gateway.providers.router import Router
from imagine_gateway.services.accounts import AccountService
from imagine_gateway.services.file_references import FileReferenceResolver
from imagine_gateway.services.files import FileService
from imagine_gateway.services.generations import GenerationService
from imagine_gateway.services.results import ResultService
from imagine_gateway.services.webhooks import WebhookService, build_dispatcher
from imagine_gateway.settings import Settings
from imagine_gateway.store.db import Database
from imagine_gateway.store.migrate import upgrade
from imagine_gateway.worker.runner import Worker
from imagine_gateway.worker.sweeper import Sweeper

log = logging.getLogger("imagine_gateway")

# Routes that take large bodies bound them themselves, while streaming.
STREAMED_UPLOAD_PATHS = ("/api/v1/files",)
# Dialect routes that may carry one reference image (multipart file or data URL): room for a 10 MB
# image plus encoding; the Files service then applies the image's own limit.
REFERENCE_UPLOAD_PATHS = frozenset({"/v1/videos", "/v1/videos/generations", "/v1/images/edits"})
REFERENCE_UPLOAD_MAX_BYTES = 16 * 1024 * 1024


@dataclass
class Overrides:
    """Test and tooling hooks: replace a part without touching settings."""

    clock: Clock | None = None
    router: Router | None = None
    run_worker: bool | None = None
    migrate: bool = True
    announce_sandbox: bool = True  # the CLI prints its own banner


def build_context(settings: Settings, overrides: Overrides | None = None) -> AppContext:
    """Wire every part from the settings (no I/O beyond opening pools)."""
    overrides = overrides or Overrides()
    settings.home.mkdir(parents=True, exist_ok=True)  # scratch space for renders and downloads
    catalog = load_catalog(settings.catalog_file)
    clock = overrides.clock or SystemClock()
    db = Database(settings.resolved_database_url)
    storage = open_storage(settings.resolved_storage_url)
    router = overrides.router or build_router(settings, catalog)
    events: MemoryEventBus = RedisEventBus(settings.redis_url) if settings.redis_url else MemoryEventBus()
    files = FileService(db=db, storage=storage, catalog=catalog, clock=clock, settings=settings)
    references = FileReferenceResolver(files)
    generations = GenerationService(
        db=db,
        catalog=catalog,
        clock=clock,
        settings=settings,
        router=router,
        references=references,
        events=events,
    )

    def render(task: Task) -> dict[str, Any]:
        # A webhook's payload is the task as the status endpoint shows it.
        return task_view(settings, task, now_ms=clock.now_ms())

    dispatcher = build_dispatcher(db=db, settings=settings, clock=clock, render_task=render)
    ctx = AppContext(
        settings=settings,
        db=db,
        catalog=catalog,
        clock=clock,
        storage=storage,
        router=router,
        events=events,
        references=references,
        generations=generations,
        limiter=RateLimiter(settings.rate_limit, redis_url=settings.redis_url),
        files=files,
        accounts=AccountService(db=db, clock=clock),
        webhooks=WebhookService(db=db, clock=clock, settings=settings, dispatcher=dispatcher),
        results=ResultService(db=db, storage=storage, clock=clock),
        webhook_dispatcher=dispatcher,
    )
    run_worker = settings.run_worker if overrides.run_worker is None else overrides.run_worker
    if run_worker:
        ctx.worker = Worker(
            db=db,
            catalog=catalog,
            router=router,
            storage=storage,
            references=references,
            events=events,
            clock=clock,
            settings=settings,
        )
    return ctx


def create_app(settings: Settings, overrides: Overrides | None = None) -> FastAPI:
    """The gateway as an ASGI app; the worker loop runs inside it when enabled."""
    overrides = overrides or Overrides()
    ctx = build_context(settings, overrides)

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if overrides.migrate:
            await asyncio.to_thread(upgrade, settings.resolved_database_url)
        if overrides.announce_sandbox and uses_sandbox(ctx.router):
            log.warning(
                "No upstream key is configured: generations are rendered by the local SANDBOX "
                "engine (marked output, no real Grok Imagine calls)."
            )
        if isinstance(ctx.events, RedisEventBus):
            await ctx.events.start()
        stop = asyncio.Event()
        worker_task = asyncio.create_task(ctx.worker.run(stop)) if ctx.worker else None
        webhooks = ctx.webhook_dispatcher
        webhook_task = asyncio.create_task(webhooks.run(stop)) if webhooks else None
        # Retention runs beside the worker loop; several processes sweeping at once is harmless.
        sweeper = Sweeper(
            db=ctx.db, storage=ctx.storage, clock=ctx.clock, interval_s=settings.sweep_interval_s
        )
        sweep_task = asyncio.create_task(sweeper.run(stop)) if ctx.worker else None
        try:
            yield
        finally:
            stop.set()
            if worker_task is not None:
                await worker_task
            if webhooks is not None and webhook_task is not None:
                await webhook_task
                await webhooks.aclose()
            if sweep_task is not None:
                await sweep_task
            await ctx.router.aclose()
            await ctx.events.aclose()
            await ctx.limiter.aclose()
            await ctx.storage.aclose()
            await ctx.db.dispose()

    app = FastAPI(
        title="Imagine Gateway",
        version="1",
        lifespan=lifespan,
        openapi_url="/api/v1/openapi.json",
        docs_url=None,  # /docs and /redoc come from install_docs, with packaged assets
        redoc_url=None,
    )
    app.state.ctx = ctx
    install_error_handlers(app)
    install_openapi(app, ctx.catalog)
    install_docs(app)
    app.include_router(catalog_routes.router)
    app.include_router(generation_routes.router)
    app.include_router(webhook_routes.router)
    app.include_router(file_routes.router)
    app.include_router(media_routes.router)
    install_dialects(app)
    install_console(app)

    def body_limit(path: str) -> int | None:
        if path.startswith(STREAMED_UPLOAD_PATHS):
            return None
        if path in REFERENCE_UPLOAD_PATHS:
            return REFERENCE_UPLOAD_MAX_BYTES
        return settings.max_body_bytes

    app.add_middleware(BodyLimitMiddleware, limit_for=body_limit)
    app.add_middleware(RequestContextMiddleware)
    install_cors(app, settings)  # outermost, so that every response and error carries its headers
    return app
