"""The FastAPI application factory: routes, dialects, error envelopes and middleware over a runtime."""

from __future__ import annotations

import contextlib
import gc
from collections.abc import AsyncIterator

from fastapi import FastAPI

from imagine_gateway.api import admin as admin_routes
from imagine_gateway.api import media_routes, upload_routes
from imagine_gateway.api.console_routes import install_console
from imagine_gateway.api.context import AppContext
from imagine_gateway.api.cors import install_cors
from imagine_gateway.api.dialects import install_dialects
from imagine_gateway.api.dialects import xai_grpc as grpc_dialect
from imagine_gateway.api.docs_pages import install_docs
from imagine_gateway.api.edge import Edge
from imagine_gateway.api.errors import install_error_handlers
from imagine_gateway.api.gateway_app import GatewayApp
from imagine_gateway.api.hot_routes import HotRoutes
from imagine_gateway.api.openapi import install_openapi
from imagine_gateway.api.ratelimit import RateLimiter
from imagine_gateway.api.v1 import account as account_routes
from imagine_gateway.api.v1 import catalog as catalog_routes
from imagine_gateway.api.v1 import files as file_routes
from imagine_gateway.api.v1 import generations as generation_routes
from imagine_gateway.api.v1 import webhooks as webhook_routes
from imagine_gateway.api.v1.views import task_view
from imagine_gateway.runtime import Overrides, Runtime
from imagine_gateway.runtime.endpoints import ops_routes
from imagine_gateway.runtime.signals import forward_stop_signals
from imagine_gateway.settings import Settings

# Routes that take large bodies bound them themselves, while streaming.
STREAMED_UPLOAD_PATHS = ("/api/v1/files",)
# Dialect routes that may carry one reference image (multipart file or data URL): room for a 10 MB
# image plus encoding; the Files service then applies the image's own limit.
REFERENCE_UPLOAD_PATHS = frozenset({"/v1/videos", "/v1/videos/generations", "/v1/images/edits"})
REFERENCE_UPLOAD_MAX_BYTES = 16 * 1024 * 1024


def create_app(settings: Settings, overrides: Overrides | None = None, *, freeze_gc: bool = False) -> FastAPI:
    """The gateway as an ASGI app; its lifespan runs the gateway's runtime (worker loop when enabled)
    and, when ``grpc_port`` is set, xAI's gRPC API beside it.

    ``freeze_gc``: for a process that serves this one app for its whole life (``imagine serve``).
    Once started, what start-up built (modules, the catalog, engines, routes) is moved out of the
    garbage collector's reach, so a full collection walks only what requests made instead of
    pausing every request for tens of milliseconds. Not for a process that builds many apps (tests):
    frozen objects are never collected."""
    runtime = Runtime(settings, overrides, webhook_view=task_view)
    limiter = RateLimiter(settings.rate_limit, redis_url=settings.redis_url)
    ctx = AppContext.serving(runtime.context, limiter=limiter)

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        try:
            # On SIGTERM the runtime stops taking work and ends its event streams at once, so the
            # server's wait for open connections is not held by a stream of a task still queued.
            async with runtime, _forwarding(runtime), grpc_dialect.serving(ctx) as grpc_server:
                app.state.grpc = grpc_server  # xAI's gRPC API, when IMAGINE_GRPC_PORT is set
                if freeze_gc:
                    gc.collect()  # no garbage of start-up's is frozen with it
                    gc.freeze()
                yield
        finally:
            await limiter.aclose()

    hot = HotRoutes(ctx)
    app = GatewayApp(
        # FastAPI's telemetry, when on, sees every request, the hot routes' too (``gateway_app``).
        hot=None if settings.opentelemetry else hot,
        # Off unless asked for: FastAPI would otherwise look up the global OpenTelemetry providers
        # on every request, a few percent of a status read, to find none in most deployments.
        telemetry=None if settings.opentelemetry else {"tracing": False, "metrics": False, "logs": False},
        title="Imagine Gateway",
        version="1",
        lifespan=lifespan,
        openapi_url="/api/v1/openapi.json",
        docs_url=None,  # /docs and /redoc come from install_docs, with packaged assets
        redoc_url=None,
    )
    app.state.ctx = ctx
    app.router.routes.extend(ops_routes(runtime))
    app.state.runtime = runtime
    install_error_handlers(app)
    install_openapi(app, ctx.catalog)
    install_docs(app)
    app.include_router(catalog_routes.router)
    app.include_router(account_routes.router)
    app.include_router(admin_routes.router)
    app.include_router(generation_routes.router)
    app.include_router(webhook_routes.router)
    app.include_router(file_routes.router)
    app.include_router(media_routes.router)
    app.include_router(upload_routes.router)
    install_dialects(app)
    install_console(app)

    def body_limit(path: str) -> int | None:
        if path.startswith(STREAMED_UPLOAD_PATHS):
            return None
        if path in REFERENCE_UPLOAD_PATHS:
            return REFERENCE_UPLOAD_MAX_BYTES
        return settings.max_body_bytes

    app.add_middleware(Edge, limit_for=body_limit, access_log=settings.access_log, hot=hot)
    install_cors(app, settings)  # outermost, so that every response and error carries its headers
    return app


@contextlib.asynccontextmanager
async def _forwarding(runtime: Runtime) -> AsyncIterator[None]:
    with forward_stop_signals(runtime.begin_shutdown):
        yield
