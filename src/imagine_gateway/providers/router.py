"""Choosing a provider for a task.

Providers are tried in priority order; a provider is skipped when it cannot serve the exact params
or when it already failed this task. (Weights, per-provider limits and circuit breaking build on
this in `providers/routing.py` when a providers file is configured.)
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from imagine_gateway.catalog.contract import ModelContract
from imagine_gateway.core.errors import FieldError, ValidationFailed
from imagine_gateway.providers.base import Provider


class Router:
    """An ordered set of providers."""

    def __init__(self, providers: Sequence[Provider]) -> None:
        if not providers:
            raise ValueError("at least one provider is needed")
        self._providers = list(providers)
        self._by_name = {p.name: p for p in providers}

    @property
    def providers(self) -> list[Provider]:
        return list(self._providers)

    def get(self, name: str) -> Provider | None:
        return self._by_name.get(name)

    def candidates(
        self, model: ModelContract, params: dict[str, Any], *, exclude: Iterable[str] = ()
    ) -> list[Provider]:
        """Providers able to serve this request, best first."""
        skip = set(exclude)
        return [p for p in self._providers if p.name not in skip and p.unsupported(model, params) is None]

    def check(self, model: ModelContract, params: dict[str, Any]) -> None:
        """Raise ``validation_failed`` saying what can be served when no provider can take it."""
        reasons = [f"{p.name}: {why}" for p in self._providers if (why := p.unsupported(model, params))]
        if len(reasons) == len(self._providers):
            raise ValidationFailed(
                "No configured provider can serve these parameters.",
                [FieldError("params", "; ".join(reasons))],
            )

    def record_success(self, name: str) -> None:
        """Hook for health tracking."""

    def record_failure(self, name: str) -> None:
        """Hook for health tracking."""

    async def aclose(self) -> None:
        for p in self._providers:
            await p.aclose()
