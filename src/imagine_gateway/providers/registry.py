"""Which providers a gateway runs with, from the settings."""

from __future__ import annotations

from imagine_gateway.catalog.loader import Catalog
from imagine_gateway.providers.base import Provider
from imagine_gateway.providers.router import Router
from imagine_gateway.providers.sandbox import SandboxProvider
from imagine_gateway.settings import Settings


def sandbox_provider(settings: Settings) -> SandboxProvider:
    return SandboxProvider(
        latency_s=settings.sandbox_latency_s,
        failure_rate=settings.sandbox_failure_rate,
        fps=settings.sandbox_fps,
        work_dir=settings.home,
    )


def build_providers(settings: Settings, catalog: Catalog) -> list[Provider]:
    """The sandbox engine when no upstream is configured."""
    return [sandbox_provider(settings)]


def build_router(settings: Settings, catalog: Catalog) -> Router:
    return Router(build_providers(settings, catalog))


def uses_sandbox(router: Router) -> bool:
    return any(p.name == "sandbox" for p in router.providers)
