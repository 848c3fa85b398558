"""Resolving ``params.referenceMediaItems`` to files the gateway may use.

The Files API implements it (`services/file_references.py`); the task pipeline only sees ``ReferenceInput``s.
"""

from __future__ import annotations

from typing import Protocol

from imagine_gateway.catalog.contract import ModelContract
from imagine_gateway.catalog.validation import ReferenceItem
from imagine_gateway.providers.base import ReferenceInput


class ReferenceResolver(Protocol):
    async def check(self, account_id: str, model: ModelContract, items: tuple[ReferenceItem, ...]) -> None:
        """Raise ``ValidationFailed`` unless every item may be used by this account for this model."""
        ...

    async def load(self, account_id: str, items: tuple[ReferenceItem, ...]) -> tuple[ReferenceInput, ...]:
        """The items' bytes (or upstream-fetchable URLs) for a provider."""
        ...
