"""Which providers a gateway runs with, from the settings.

providers_file set   -> the providers in that file (routing, limits, failover)
else XAI_API_KEY set -> xAI alone (base URL from XAI_BASE_URL)
else                 -> the local sandbox engine
"""

from __future__ import annotations

import ipaddress
import urllib.parse
from collections.abc import Mapping

from imagine_gateway.catalog.loader import Catalog
from imagine_gateway.media.storage import open_storage
from imagine_gateway.providers.base import Provider
from imagine_gateway.providers.config import ModelMapping, ProviderConfig, load_providers_file, resolve_models
from imagine_gateway.providers.health import Breaker
from imagine_gateway.providers.http import UpstreamHttp
from imagine_gateway.providers.router import Router
from imagine_gateway.providers.routing import Lane, TokenBucket, parse_rate
from imagine_gateway.providers.sandbox import SandboxProvider
from imagine_gateway.providers.upstream_output import OutputTarget, StorageOutputTarget
from imagine_gateway.providers.xai_bodies import WireOptions
from imagine_gateway.settings import Settings


def sandbox_provider(settings: Settings) -> SandboxProvider:
    """The local sandbox engine, tuned by the ``sandbox_*`` settings."""
    return SandboxProvider(
        latency_s=settings.sandbox_latency_s,
        failure_rate=settings.sandbox_failure_rate,
        fps=settings.sandbox_fps,
        work_dir=settings.home,
    )


def build_router(settings: Settings, catalog: Catalog) -> Router:
    """The router over the providers the settings name (see the module docstring)."""
    if settings.providers_file is not None:
        models = {m.id: m for m in catalog} | {a.id: m for m in catalog for a in m.aliases}
        configs = load_providers_file(settings.providers_file, models)
        return Router(lanes=[lane for c in configs for lane in lanes_of(c, settings, catalog)])
    if settings.xai_api_key is not None:
        config = ProviderConfig(
            name="xai",
            kind="xai",
            base_url=settings.xai_base_url,
            api_keys=(settings.xai_api_key.get_secret_value(),),
        )
        return Router(lanes=lanes_of(config, settings, catalog))
    return Router([sandbox_provider(settings)])


def lanes_of(config: ProviderConfig, settings: Settings, catalog: Catalog) -> list[Lane]:
    """One lane per credential: ``name`` for a single key, ``name#0``, ``name#1``... for several.

    The lane name is what a task records as its provider, so every poll uses the same key.
    """
    lanes = []
    for index, key in enumerate(config.api_keys):
        name = config.name if len(config.api_keys) == 1 else f"{config.name}#{index}"
        bucket = None
        if config.rate_limit is not None:
            count, per_s = parse_rate(config.rate_limit)
            bucket = TokenBucket(count, per_s)
        lanes.append(
            Lane(
                provider=make_provider(config, name=name, api_key=key, settings=settings, catalog=catalog),
                priority=config.priority,
                weight=config.weight,
                breaker=Breaker(
                    failure_threshold=config.failure_threshold or settings.provider_failure_threshold,
                    cool_down_s=config.cool_down_s or settings.provider_cool_down_s,
                ),
                bucket=bucket,
            )
        )
    return lanes


def make_provider(
    config: ProviderConfig, *, name: str, api_key: str, settings: Settings, catalog: Catalog
) -> Provider:
    """The provider of ``config.kind`` for one credential."""
    from imagine_gateway.providers import grokimagineapi, rivya, xai, xai_compatible

    defaults: Mapping[str, ModelMapping]
    base_url = config.base_url
    if config.kind == "rivya":
        defaults, base_url = {}, rivya.api_root(base_url)
    elif config.kind == "grokimagineapi":
        defaults, base_url = grokimagineapi.DEFAULT_MODELS, xai.api_root(base_url)
    elif config.kind == "xai_compatible":
        defaults, base_url = xai_compatible.DEFAULT_MODELS, xai.api_root(base_url)
    else:
        defaults, base_url = xai.DEFAULT_MODELS, xai.api_root(base_url)
    http = UpstreamHttp(
        name=name,
        base_url=base_url,
        api_key=api_key,
        timeout_s=config.timeout_s or settings.upstream_timeout_s,
        max_concurrency=config.max_concurrency,
    )
    models = resolve_models(defaults, config.models)
    if config.kind == "rivya":
        return rivya.RivyaProvider(name=name, http=http, models=models or _same_ids(catalog))
    if config.kind == "grokimagineapi":
        return grokimagineapi.GrokImagineApiProvider(name=name, http=http, models=models)
    if config.kind == "xai_compatible":
        return xai_compatible.XaiCompatibleProvider(
            name=name, http=http, models=models, submit_path=config.submit_path or "/v1/videos/generations"
        )
    return xai.XaiProvider(
        name=name, http=http, models=models, options=wire_options(settings), output=output_target(settings)
    )


def wire_options(settings: Settings) -> WireOptions:
    """Reference files as URLs or inline (``upstream_media_urls``), and the key of ``user`` ids."""
    return WireOptions(media_urls=media_urls_reachable(settings), user_key=settings.signing_key)


def media_urls_reachable(settings: Settings) -> bool:
    """Whether xAI can fetch our media URLs: said by the operator, or https on a public host name.

    The gateway cannot see itself from the internet; 'auto' trusts an https base URL whose host is
    not loopback, private or a bare name, and otherwise sends the bytes inline (always works, but
    makes every submit carry the files).
    """
    if settings.upstream_media_urls != "auto":
        return settings.upstream_media_urls == "always"
    parts = urllib.parse.urlsplit(settings.public_base_url)
    host = parts.hostname or ""
    if parts.scheme != "https" or not host or host == "localhost" or "." not in host:
        return False
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return not host.endswith((".local", ".internal", ".localhost"))
    return address.is_global


def output_target(settings: Settings) -> OutputTarget | None:
    """The bring-your-own-storage target when ``xai_output_upload`` is on."""
    if not settings.xai_output_upload:
        return None
    return StorageOutputTarget(
        open_storage(settings.resolved_storage_url),
        public_base_url=settings.public_base_url,
        secret=settings.signing_key,
        # Long enough for a generation to finish within the task's deadline.
        ttl_s=settings.task_deadline_s,
    )


def _same_ids(catalog: Catalog) -> dict[str, ModelMapping]:
    """A Rivya-shaped upstream without a model table: every catalog model under its own id."""
    return {m.id: ModelMapping(upstream_model=m.id) for m in catalog}


def uses_sandbox(router: Router) -> bool:
    return any(p.name == "sandbox" for p in router.providers)
