"""Typed form of a catalog entry (what the TOML file holds)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from imagine_gateway.core.pricing import PriceRule

ParamType = Literal["select", "number", "text"]
MediaKind = Literal["image", "video", "audio"]


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


class ModelContract(BaseModel):
    """A public model id and everything a request to it must satisfy."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    id: str
    display_name: str
    category: Literal["image", "video", "audio"]
    output: Literal["image", "video", "audio"]
    base_credits: int = Field(ge=0)
    billing_type: Literal["FIXED", "PER_SECOND"] = "FIXED"
    credits_per_second: int | None = None
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

    def param(self, key: str) -> ParamSpec | None:
        for spec in self.params:
            if spec.key == key:
                return spec
        return None

    @property
    def price_rule(self) -> PriceRule:
        """This entry's price as a core value; ``credits_per_second`` counts only for ``PER_SECOND``."""
        per_second = self.credits_per_second if self.billing_type == "PER_SECOND" else None
        return PriceRule(base_credits=self.base_credits, credits_per_second=per_second)

    @property
    def param_keys(self) -> list[str]:
        keys = [p.key for p in self.params]
        if self.reference_media is not None:
            keys.append("referenceMediaItems")
        return keys


def _plain(value: float) -> float:
    return int(value) if float(value).is_integer() else value
