"""Typed form of a catalog entry (what the TOML file holds)."""

from __future__ import annotations

from functools import cached_property
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from imagine_gateway.catalog.price_spec import PriceSpec, legacy_rule
from imagine_gateway.core.pricing import PriceRule

ParamType = Literal["select", "number", "text"]
MediaKind = Literal["image", "video", "audio"]
# What a reference file is for. Video models: ``first_frame`` (xAI ``image``), ``last_frame``,
# ``keyframe`` (with a timestamp), ``reference`` (``reference_images``), ``audio``
# (``reference_audios``), ``edit`` / ``extend`` (the ``video`` of an edit or an extension).
# Image models: ``source`` (the ``image`` / ``images`` of an edit).
ROLES: tuple[str, ...] = (
    "first_frame",
    "last_frame",
    "keyframe",
    "reference",
    "audio",
    "edit",
    "extend",
    "source",
)
ROLE_KINDS: dict[str, str] = {
    "first_frame": "image",
    "last_frame": "image",
    "keyframe": "image",
    "reference": "image",
    "audio": "audio",
    "edit": "video",
    "extend": "video",
    "source": "image",
}


class ParamSpec(BaseModel):
    """One model parameter: its type, default and allowed values."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    key: str
    type: ParamType
    required: bool = False
    default: str | int | float | None = None
    min: float | None = None
    max: float | None = None
    step: float | None = None
    options: tuple[str, ...] | None = None
    max_length: int | None = None
    description: str = ""

    def allowed(self) -> object:
        """What this parameter accepts, for error messages."""
        if self.type == "select":
            return list(self.options or ())
        if self.type == "number":
            out: dict[str, float] = {}
            for name in ("min", "max", "step"):
                value = getattr(self, name)
                if value is not None:
                    out[name] = _plain(value)
            return out
        return {"type": "string", "max_length": self.max_length}


class ReferencePolicy(BaseModel):
    """Which reference files a model accepts in ``params.referenceMediaItems``."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    max_files: int
    kinds: tuple[MediaKind, ...]
    max_bytes: dict[str, int] = Field(default_factory=dict)
    mime_types: dict[str, tuple[str, ...]] = Field(default_factory=dict)


class ModeSpec(BaseModel):
    """One way of calling a model (text-to-video, reference-to-video, video-edit...) and its rules.

    A request's mode follows from the roles of its reference files: the first mode (in file order)
    whose ``roles`` admit every role given and whose ``requires_any`` is met.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str
    # The upstream operation: xAI's ``/v1/videos/generations`` | ``/edits`` | ``/extensions``.
    endpoint: Literal["generations", "edits", "extensions"] = "generations"
    prompt_required: bool = True
    # role -> [min, max] files of that role.
    roles: dict[str, tuple[int, int]] = Field(default_factory=dict)
    # At least one file of one of these roles (what tells this mode from a simpler one).
    requires_any: tuple[str, ...] = ()
    # Select values served in this mode, per param (e.g. resolution); absent: the param table's.
    options: dict[str, tuple[str, ...]] = Field(default_factory=dict)
    # [min, max] seconds of output; None: the mode has no duration (an edit keeps its input's).
    duration: tuple[int, int] | None = None
    # [min, max] seconds of the input video (edits, extensions).
    source_duration: tuple[float, float] | None = None
    # Params that this mode does not take (the output follows the input instead).
    ignores: tuple[str, ...] = ()
    source: str = ""

    def role_max(self, role: str) -> int:
        return self.roles.get(role, (0, 0))[1]


class Alias(BaseModel):
    """Another id of a model (xAI's dated and retired ids), optionally pinning params."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    id: str
    params: dict[str, str | int] = Field(default_factory=dict)


class ModelContract(BaseModel):
    """A public model id and everything a request to it must satisfy."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    id: str
    display_name: str
    category: Literal["image", "video", "audio"]
    output: Literal["image", "video", "audio"]
    base_credits: int = Field(ge=0)
    billing_type: Literal["FIXED", "PER_SECOND", "PER_IMAGE"] = "FIXED"
    credits_per_second: int | None = None
    # The price rule (catalog/price_spec.py); absent: the rule the three fields above describe.
    price: PriceSpec | None = None
    max_prompt_length: int
    prompt_required: bool = True
    supported_modes: tuple[str, ...] = ()
    supported_api_inputs: tuple[str, ...] = ("text",)
    url_input_supported: bool = False
    requires_upload_for_modes: tuple[str, ...] = ()
    api_status: Literal["available", "coming_soon", "studio_only"] = "available"
    upstream_model: str
    reference_media: ReferencePolicy | None = None
    params: tuple[ParamSpec, ...] = ()
    notices: tuple[str, ...] = ()
    aliases: tuple[Alias, ...] = ()
    # Params taken only through the engine's own shape (the xAI dialect), beside a seed's table.
    engine_params: tuple[ParamSpec, ...] = ()
    # How the engine (xAI) can be called for this model; empty: no per-mode rules.
    modes: tuple[ModeSpec, ...] = ()
    # The native param table is a seed's published contract (wider or narrower than the engine's
    # rules); the engine's rules are then checked as provider capability, not as the contract.
    seed_contract: bool = False

    def mode(self, name: str) -> ModeSpec | None:
        for spec in self.modes:
            if spec.name == name:
                return spec
        return None

    def engine_references(self) -> ReferencePolicy | None:
        """The reference policy of the engine's modes (more files and kinds than a seed's)."""
        if not self.modes:
            return self.reference_media
        most = max((sum(high for _, high in m.roles.values()) for m in self.modes), default=0)
        kinds = sorted({ROLE_KINDS[r] for m in self.modes for r in m.roles})
        if most == 0:
            return self.reference_media
        base = self.reference_media
        max_bytes = dict(base.max_bytes) if base else {}
        mime_types = dict(base.mime_types) if base else {}
        for kind in kinds:
            max_bytes.setdefault(kind, ENGINE_MAX_BYTES[kind])
            mime_types.setdefault(kind, ENGINE_MIME_TYPES[kind])
        return ReferencePolicy(
            max_files=most,
            kinds=tuple(kinds),
            max_bytes=max_bytes,
            mime_types=mime_types,
        )

    def for_engine(self) -> ModelContract:
        """This contract as xAI's own shape reaches it: the engine's reference policy and params."""
        policy = self.engine_references()
        if policy == self.reference_media and not self.engine_params:
            return self
        known = {p.key for p in self.params}
        params = self.params + tuple(p for p in self.engine_params if p.key not in known)
        return self.model_copy(update={"reference_media": policy, "params": params})

    def alias(self, model_id: str) -> Alias | None:
        for alias in self.aliases:
            if alias.id == model_id:
                return alias
        return None

    def param(self, key: str) -> ParamSpec | None:
        for spec in self.params:
            if spec.key == key:
                return spec
        return None

    @model_validator(mode="after")
    def _price_is_usable(self) -> ModelContract:
        rule = self.price.rule() if self.price is not None else None  # raises on a bad table
        known = {p.key for p in self.params} | {p.key for p in self.engine_params}
        for table in (rule.per_second, rule.per_image) if rule is not None else ():
            unknown = [name for name in (table.by if table else ()) if name not in known]
            if unknown:
                raise ValueError(f"price table by {unknown}: not params of {self.id}")
        return self

    @cached_property
    def price_rule(self) -> PriceRule:
        """This entry's price as a core rule: its ``price`` table, else the ``billing_type`` fields
        (``credits_per_second`` counts only for ``PER_SECOND``, ``n`` only for ``PER_IMAGE``)."""
        if self.price is not None:
            return self.price.rule()
        return legacy_rule(self.billing_type, self.base_credits, self.credits_per_second)

    @property
    def param_keys(self) -> list[str]:
        keys = [p.key for p in self.params]
        if self.reference_media is not None:
            keys.append("referenceMediaItems")
        return keys


# xAI fetches image inputs up to 10 MiB (JPEG/PNG/WebP) and takes MP4 video; audio clips are short.
ENGINE_MAX_BYTES = {"image": 10 * 1024 * 1024, "video": 100 * 1024 * 1024, "audio": 20 * 1024 * 1024}
ENGINE_MIME_TYPES: dict[str, tuple[str, ...]] = {
    "image": ("image/jpeg", "image/png", "image/webp"),
    "video": ("video/mp4",),
    "audio": ("audio/mpeg", "audio/mp4", "audio/wav", "audio/x-wav", "audio/ogg"),
}


def _plain(value: float) -> float:
    return int(value) if float(value).is_integer() else value
