"""What a generation produced: the upstream's outputs as it handed them over, and our stored copies.

Each record serializes to the JSON stored in the task row (``to_json``) and is read back from it
(``from_json``); the stored shape is the one existing rows and API views already hold.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, cast

AssetKind = Literal["image", "video", "audio"]


@dataclass(frozen=True)
class ResultAsset:
    """One output the upstream produced, as the upstream hands it to us."""

    url: str
    kind: AssetKind
    mime_type: str | None = None
    duration_s: float | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "url": self.url,
            "kind": self.kind,
            "mime_type": self.mime_type,
            "duration_s": self.duration_s,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> ResultAsset:
        return cls(
            url=data["url"],
            kind=cast(AssetKind, data["kind"]),
            mime_type=data.get("mime_type"),
            duration_s=data.get("duration_s"),
        )


@dataclass(frozen=True)
class UpstreamResult:
    """The upstream's last word on a job, kept for audit: its assets when it finished, and its body.

    ``assets`` is None for a failure, which is stored as the upstream's bare body.
    """

    raw: dict[str, Any] = field(default_factory=dict)
    assets: tuple[ResultAsset, ...] | None = None

    def to_json(self) -> dict[str, Any] | None:
        if self.assets is None:
            return self.raw or None
        return {"assets": [a.to_json() for a in self.assets], "raw": self.raw}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> UpstreamResult:
        assets = data.get("assets")
        if isinstance(assets, list):
            return cls(
                raw=dict(data.get("raw") or {}), assets=tuple(ResultAsset.from_json(a) for a in assets)
            )
        return cls(raw=dict(data))


@dataclass(frozen=True)
class StoredAsset:
    """One result file in our storage (``key``), probed, with its poster frame for videos."""

    key: str
    kind: str
    mime_type: str
    size_bytes: int
    sha256: str
    width: int | None
    height: int | None
    duration_s: float | None
    poster_key: str | None

    def to_json(self) -> dict[str, Any]:
        return {
            "key": self.key,
            "kind": self.kind,
            "mime_type": self.mime_type,
            "size_bytes": self.size_bytes,
            "sha256": self.sha256,
            "width": self.width,
            "height": self.height,
            "duration_seconds": self.duration_s,
            "poster_key": self.poster_key,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> StoredAsset:
        return cls(
            key=data["key"],
            kind=data["kind"],
            mime_type=data["mime_type"],
            size_bytes=data["size_bytes"],
            sha256=data["sha256"],
            width=data.get("width"),
            height=data.get("height"),
            duration_s=data.get("duration_seconds"),
            poster_key=data.get("poster_key") or None,
        )

    @property
    def keys(self) -> tuple[str, ...]:
        """The storage keys of this asset: the file, then its poster when it has one."""
        return (self.key, self.poster_key) if self.poster_key else (self.key,)


@dataclass(frozen=True)
class StoredResult:
    """A succeeded task's result; ``expired`` once retention (or a delete) removed its files."""

    assets: tuple[StoredAsset, ...]
    expired: bool = False

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {"assets": [a.to_json() for a in self.assets]}
        if self.expired:
            data["expired"] = True
        return data

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> StoredResult:
        return cls(
            assets=tuple(StoredAsset.from_json(a) for a in data.get("assets") or ()),
            expired=bool(data.get("expired")),
        )


def result_keys(result: StoredResult | None) -> list[str]:
    """Storage keys of a task's result files, posters included (what deleting the result removes)."""
    if result is None:
        return []
    return [key for asset in result.assets for key in asset.keys]
