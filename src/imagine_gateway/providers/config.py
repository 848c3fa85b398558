"""What a provider can serve, and the providers file (TOML) that configures upstreams.

    [[providers]]
    name = "xai-main"
    kind = "xai"                      # xai | xai_compatible | grokimagineapi | rivya
    base_url = "https://api.x.ai"
    api_key_env = "XAI_API_KEY"       # or api_key = "...", or api_keys / api_key_envs for several
    priority = 1                      # lower is tried first
    weight = 3                        # share among providers of the same priority
    max_concurrency = 32              # requests in flight to this upstream (per worker process)
    rate_limit = "10/second"          # submits to this upstream (per worker process)
    timeout_s = 30
    [providers.models]
    "grok-imagine-video" = { upstream_model = "grok-imagine-video", max_duration = 15 }

A model entry narrows the catalog's params to what the upstream serves: ``min_<param>`` and
``max_<param>`` bound a number, ``<param> = [...]`` lists the select values it takes.
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Literal, get_args

from imagine_gateway.catalog.contract import ModelContract

Kind = Literal["xai", "xai_compatible", "grokimagineapi", "rivya"]
KINDS: tuple[str, ...] = get_args(Kind)
_MAPPING_KEYS = ("upstream_model", "quality_model")


class ProvidersFileError(ValueError):
    """The providers file cannot be used; the message says where and why."""


@dataclass(frozen=True)
class ParamRule:
    """How an upstream narrows one catalog param: a number range or a set of select values."""

    min: float | None = None
    max: float | None = None
    options: tuple[str, ...] | None = None

    def rejects(self, value: Any) -> str | None:
        """Why ``value`` cannot be served, or None."""
        if self.options is not None and str(value) not in self.options:
            return f"{value!r} is not served (serves {', '.join(self.options)})"
        if isinstance(value, int | float) and not isinstance(value, bool):
            if self.min is not None and value < self.min:
                return f"{_num(value)} is below {_num(self.min)} (serves {self._range()})"
            if self.max is not None and value > self.max:
                return f"{_num(value)} is above {_num(self.max)} (serves {self._range()})"
        return None

    def _range(self) -> str:
        low = "" if self.min is None else _num(self.min)
        high = "" if self.max is None else _num(self.max)
        return f"{low}..{high}"


@dataclass(frozen=True)
class ModelMapping:
    """A public model as one upstream serves it: its upstream id and narrower params."""

    upstream_model: str
    # Upstream id for the quality switch (``enable_pro = "true"``), where the upstream has one.
    quality_model: str | None = None
    rules: Mapping[str, ParamRule] = field(default_factory=dict)

    def unsupported(self, params: Mapping[str, Any]) -> str | None:
        """``params.<key>: why`` for the first param this mapping cannot serve, else None."""
        for key, rule in self.rules.items():
            if key in params and (why := rule.rejects(params[key])) is not None:
                return f"params.{key}: {why}"
        return None


@dataclass(frozen=True)
class ProviderConfig:
    """One ``[[providers]]`` entry, keys resolved."""

    name: str
    kind: Kind
    base_url: str
    api_keys: tuple[str, ...]
    priority: int = 100
    weight: float = 1.0
    max_concurrency: int = 64
    rate_limit: str | None = None
    timeout_s: float | None = None
    failure_threshold: int | None = None
    cool_down_s: float | None = None
    # None: the kind's own defaults for every model it knows.
    models: Mapping[str, ModelMapping] | None = None
    # xai_compatible only: where videos are submitted ("/v1/videos/generations" or Dubrify's "/v1/videos").
    submit_path: str | None = None


def resolve_models(
    defaults: Mapping[str, ModelMapping], configured: Mapping[str, ModelMapping] | None
) -> dict[str, ModelMapping]:
    """The models a provider serves: its kind's defaults, or the file's entries laid over them."""
    if configured is None:
        return dict(defaults)
    out: dict[str, ModelMapping] = {}
    for model_id, mapping in configured.items():
        base = defaults.get(model_id)
        if base is None:
            out[model_id] = replace(mapping, upstream_model=mapping.upstream_model or model_id)
            continue
        out[model_id] = replace(
            base,
            upstream_model=mapping.upstream_model or base.upstream_model,
            quality_model=mapping.quality_model or base.quality_model,
            rules={
                key: _narrow(base.rules.get(key), mapping.rules.get(key))
                for key in dict.fromkeys([*base.rules, *mapping.rules])
            },
        )
    return out


def _narrow(base: ParamRule | None, override: ParamRule | None) -> ParamRule:
    """The file's bounds over the kind's: each field the file sets wins, the others stay."""
    if base is None or override is None:
        rule = override or base
        assert rule is not None
        return rule
    return ParamRule(
        min=base.min if override.min is None else override.min,
        max=base.max if override.max is None else override.max,
        options=base.options if override.options is None else override.options,
    )


def load_providers_file(path: Path, models: Mapping[str, ModelContract]) -> list[ProviderConfig]:
    """Read and check a providers file against the catalog; raises ``ProvidersFileError``."""
    try:
        data = tomllib.loads(path.read_text())
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise ProvidersFileError(f"{path}: {exc}") from exc
    entries = data.get("providers")
    if not isinstance(entries, list) or not entries:
        raise ProvidersFileError(f"{path}: needs at least one [[providers]] entry")
    configs = [_entry(path, i, entry, models) for i, entry in enumerate(entries)]
    names = [c.name for c in configs]
    if len(set(names)) != len(names):
        raise ProvidersFileError(f"{path}: provider names must be unique, got {names}")
    return configs


_ENTRY_KEYS = {
    "name",
    "kind",
    "base_url",
    "api_key",
    "api_keys",
    "api_key_env",
    "api_key_envs",
    "priority",
    "weight",
    "max_concurrency",
    "rate_limit",
    "timeout_s",
    "failure_threshold",
    "cool_down_s",
    "models",
    "submit_path",
}


def _entry(path: Path, index: int, entry: Any, catalog: Mapping[str, ModelContract]) -> ProviderConfig:
    where = f"{path}: providers[{index}]"
    if not isinstance(entry, dict):
        raise ProvidersFileError(f"{where}: must be a table")
    unknown = sorted(set(entry) - _ENTRY_KEYS)
    if unknown:
        raise ProvidersFileError(f"{where}: unknown keys {unknown}; allowed: {sorted(_ENTRY_KEYS)}")
    name = entry.get("name")
    if not isinstance(name, str) or not name or "#" in name:
        raise ProvidersFileError(f"{where}.name: a non-empty string without '#' is required")
    where = f"{path}: provider {name!r}"
    kind = entry.get("kind")
    if kind not in KINDS:
        raise ProvidersFileError(f"{where}.kind: must be one of {', '.join(KINDS)}; got {kind!r}")
    base_url = entry.get("base_url")
    if not isinstance(base_url, str) or not base_url.startswith(("http://", "https://")):
        raise ProvidersFileError(f"{where}.base_url: an http(s) URL is required")
    models = entry.get("models")
    return ProviderConfig(
        name=name,
        kind=kind,
        base_url=base_url.rstrip("/"),
        api_keys=_keys(where, entry),
        priority=_number(where, entry, "priority", int, 100),
        weight=float(_number(where, entry, "weight", float, 1.0)),
        max_concurrency=_number(where, entry, "max_concurrency", int, 64),
        rate_limit=_rate_limit(where, entry.get("rate_limit")),
        timeout_s=_optional_number(where, entry, "timeout_s"),
        failure_threshold=_optional_int(where, entry, "failure_threshold"),
        cool_down_s=_optional_number(where, entry, "cool_down_s"),
        models=None if models is None else _models(where, models, catalog),
        submit_path=_submit_path(where, kind, entry.get("submit_path")),
    )


def _keys(where: str, entry: dict[str, Any]) -> tuple[str, ...]:
    keys: list[str] = []
    literal = entry.get("api_keys", [entry["api_key"]] if "api_key" in entry else [])
    env_names = entry.get("api_key_envs", [entry["api_key_env"]] if "api_key_env" in entry else [])
    if not isinstance(literal, list) or not isinstance(env_names, list):
        raise ProvidersFileError(f"{where}: api_keys and api_key_envs must be lists")
    keys += [str(k) for k in literal]
    for env_name in env_names:
        value = os.environ.get(str(env_name))
        if not value:
            raise ProvidersFileError(f"{where}: environment variable {env_name} is not set")
        keys.append(value)
    if not keys or not all(keys):
        raise ProvidersFileError(f"{where}: set api_key, api_keys, api_key_env or api_key_envs")
    return tuple(keys)


def _number(where: str, entry: dict[str, Any], key: str, kind: type, default: float) -> Any:
    value = entry.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int | float) or (value <= 0 and key != "priority"):
        raise ProvidersFileError(f"{where}.{key}: must be a positive number; got {value!r}")
    if kind is int and not float(value).is_integer():
        raise ProvidersFileError(f"{where}.{key}: must be a whole number; got {value!r}")
    return kind(value)


def _optional_number(where: str, entry: dict[str, Any], key: str) -> float | None:
    return None if key not in entry else float(_number(where, entry, key, float, 0))


def _optional_int(where: str, entry: dict[str, Any], key: str) -> int | None:
    return None if key not in entry else int(_number(where, entry, key, int, 0))


def _rate_limit(where: str, value: Any) -> str | None:
    if value is None:
        return None
    from imagine_gateway.providers.routing import parse_rate

    try:
        parse_rate(value)
    except ValueError as exc:
        raise ProvidersFileError(f"{where}.rate_limit: {exc}") from exc
    return str(value)


def _submit_path(where: str, kind: str, value: Any) -> str | None:
    if value is None:
        return None
    if kind != "xai_compatible" or value not in ("/v1/videos/generations", "/v1/videos"):
        raise ProvidersFileError(
            f"{where}.submit_path: only for kind xai_compatible, '/v1/videos/generations' or '/v1/videos'"
        )
    return str(value)


def _models(where: str, value: Any, catalog: Mapping[str, ModelContract]) -> dict[str, ModelMapping]:
    if not isinstance(value, dict) or not value:
        raise ProvidersFileError(f"{where}.models: a table of catalog model ids is required")
    out = {}
    for model_id, spec in value.items():
        model = catalog.get(model_id)
        if model is None:
            raise ProvidersFileError(
                f"{where}.models: {model_id!r} is not in the catalog ({', '.join(catalog)})"
            )
        if not isinstance(spec, dict):
            raise ProvidersFileError(f"{where}.models.{model_id}: must be a table")
        # An alias (a dated or preview id) configures the model it names.
        out[model.id] = _mapping(f"{where}.models.{model_id}", spec, model)
    return out


def _mapping(where: str, spec: dict[str, Any], model: ModelContract) -> ModelMapping:
    rules: dict[str, ParamRule] = {}
    for key, value in spec.items():
        if key in _MAPPING_KEYS:
            if not isinstance(value, str) or not value:
                raise ProvidersFileError(f"{where}.{key}: must be a non-empty string")
            continue
        bound, _, param = key.partition("_")
        if bound in ("min", "max") and param and model.param(param) is not None:
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise ProvidersFileError(f"{where}.{key}: must be a number")
            old = rules.get(param, ParamRule())
            rules[param] = (
                replace(old, min=float(value)) if bound == "min" else replace(old, max=float(value))
            )
        elif model.param(key) is not None and isinstance(value, list) and value:
            rules[key] = replace(rules.get(key, ParamRule()), options=tuple(str(v) for v in value))
        else:
            allowed = [*_MAPPING_KEYS, *(f"min_/max_/{p}" for p in (s.key for s in model.params))]
            raise ProvidersFileError(f"{where}.{key}: not understood; use {', '.join(allowed)}")
    return ModelMapping(
        upstream_model=str(spec.get("upstream_model", "")),
        quality_model=spec.get("quality_model"),
        rules=rules,
    )


def _num(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else str(value)
