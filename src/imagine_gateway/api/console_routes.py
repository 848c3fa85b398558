"""The web console: static ES modules that use the native API with the user's key.

Everything it loads ships in the package (no CDN, no build step). The page is served with a content
security policy that allows only the gateway's own scripts and styles; media may come from wherever
the gateway's signed URLs point (``IMAGINE_PUBLIC_BASE_URL``).
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path
from typing import Any

from fastapi import APIRouter, FastAPI
from fastapi.responses import FileResponse, RedirectResponse
from fastapi.staticfiles import StaticFiles

from imagine_gateway.catalog.contract import ROLE_KINDS, ROLES
from imagine_gateway.core.states import PUBLIC_STATUSES
from imagine_gateway.delivery.webhooks import EVENT_TYPES
from imagine_gateway.services.principal import ALL_SCOPES

STATIC_DIR = Path(str(resources.files("imagine_gateway.console").joinpath("static")))

# Scripts, styles and API calls only from the gateway itself; images and video from any origin,
# since result URLs carry the public base URL, which may differ from the address the browser used.
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; connect-src 'self'; "
    "img-src * data: blob:; media-src * blob:; object-src 'none'; base-uri 'none'; "
    "frame-ancestors 'none'; form-action 'self'"
)
PAGE_HEADERS = {
    "Cache-Control": "no-cache",
    "Content-Security-Policy": CSP,
    "Referrer-Policy": "no-referrer",
    "X-Content-Type-Options": "nosniff",
}

router = APIRouter(include_in_schema=False)


@router.get("/")
async def root() -> RedirectResponse:
    return RedirectResponse("/console")


@router.get("/console")
async def console() -> FileResponse:
    return FileResponse(STATIC_DIR / "index.html", headers=PAGE_HEADERS)


@router.get("/console/meta.json")
async def console_meta() -> dict[str, Any]:
    """What the console's filters and forms offer, from the server's own definitions."""
    return {
        "statuses": list(PUBLIC_STATUSES),
        "roles": list(ROLES),
        "role_kinds": dict(ROLE_KINDS),
        "scopes": list(ALL_SCOPES),
        "webhook_event_types": list(EVENT_TYPES),
    }


class ConsoleFiles(StaticFiles):
    """The console's modules, revalidated on each load (an upgrade is seen at once, not cached stale)."""

    def file_response(self, *args: Any, **kwargs: Any) -> Any:
        response = super().file_response(*args, **kwargs)
        response.headers["Cache-Control"] = "no-cache"
        response.headers["X-Content-Type-Options"] = "nosniff"
        return response


def install_console(app: FastAPI) -> None:
    """Serve the console at ``/console`` and its files under ``/console/static``."""
    app.include_router(router)
    app.mount("/console/static", ConsoleFiles(directory=STATIC_DIR), name="console-static")
