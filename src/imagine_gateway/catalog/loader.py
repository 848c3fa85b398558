"""Loading the catalog data file(s)."""

from __future__ import annotations

import functools
import tomllib
from collections.abc import Iterable, Iterator
from importlib import resources
from pathlib import Path

from pydantic import ValidationError

from imagine_gateway.catalog.contract import ModelContract


class Catalog:
    """The set of public models, in file order."""

    def __init__(self, models: Iterable[ModelContract]) -> None:
        self._models: dict[str, ModelContract] = {}
        for model in models:
            self._models[model.id] = model
        # Aliases resolve to their model (a model's own id always wins over another's alias).
        self._aliases: dict[str, ModelContract] = {}
        for model in self._models.values():
            for alias in model.aliases:
                if alias.id not in self._models:
                    self._aliases.setdefault(alias.id, model)

    def get(self, model_id: str) -> ModelContract | None:
        """The model of an id or of one of its aliases."""
        return self._models.get(model_id) or self._aliases.get(model_id)

    def resolve(self, model_id: str) -> tuple[ModelContract, dict[str, str | int]] | None:
        """The model an id names and the params its alias pins (``{}`` for a model's own id)."""
        model = self._models.get(model_id)
        if model is not None:
            return model, {}
        model = self._aliases.get(model_id)
        if model is None:
            return None
        alias = model.alias(model_id)
        return model, dict(alias.params) if alias else {}

    @property
    def alias_ids(self) -> list[str]:
        return list(self._aliases)

    def __iter__(self) -> Iterator[ModelContract]:
        return iter(self._models.values())

    def __len__(self) -> int:
        return len(self._models)

    @property
    def ids(self) -> list[str]:
        return list(self._models)


class CatalogError(ValueError):
    """A catalog file holds an entry that cannot be used; the message names the file and the entry."""


def _parse(text: str, source: str) -> list[ModelContract]:
    data = tomllib.loads(text)
    models = []
    for entry in data.get("models", []):
        try:
            models.append(ModelContract.model_validate(entry))
        except ValidationError as exc:
            name = entry.get("id") if isinstance(entry, dict) else None
            raise CatalogError(f"{source}: model {name!r} cannot be used: {exc}") from exc
    return models


@functools.cache
def _shipped() -> tuple[ModelContract, ...]:
    # Parsed once per process: the shipped file does not change under it, and the contracts are
    # frozen, so every catalog may share them (every start and CLI command would parse it again).
    shipped = resources.files("imagine_gateway.catalog").joinpath("models.toml").read_text("utf-8")
    return tuple(_parse(shipped, "models.toml"))


def load_catalog(extra_file: Path | None = None) -> Catalog:
    """The shipped catalog, with an operator's file layered on top (same id replaces).

    The operator's file is read on every call, so a restart (or a new command) sees its edits.
    """
    models = list(_shipped())
    if extra_file is not None:
        models += _parse(extra_file.read_text("utf-8"), str(extra_file))
    return Catalog(models)
