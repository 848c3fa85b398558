"""Resolving ``params.referenceMediaItems`` to files the gateway may use.

The Files API plugs its resolver in here; the task pipeline only sees ``ReferenceInput``s.
"""

from __future__ import annotations

from typing import Protocol

from imagine_gateway.catalog.contract import ModelContract
from imagine_gateway.catalog.validation import ReferenceItem
from imagine_gateway.core.errors import FieldError, ValidationFailed
from imagine_gateway.providers.base import ReferenceInput


class ReferenceResolver(Protocol):
    async def check(self, account_id: str, model: ModelContract, items: tuple[ReferenceItem, ...]) -> None:
        """Raise ``ValidationFailed`` unless every item may be used by this account for this model."""
        ...

    async def load(self, account_id: str, items: tuple[ReferenceItem, ...]) -> tuple[ReferenceInput, ...]:
        """The items' bytes (or upstream-fetchable URLs) for a provider."""
        ...


class RejectingResolver:
    """Used when no Files API is configured: every reference is refused, clearly."""

    async def check(self, account_id: str, model: ModelContract, items: tuple[ReferenceItem, ...]) -> None:
        if items:
            raise ValidationFailed(
                "Reference files must be uploaded through the Files API first.",
                [FieldError("params.referenceMediaItems[0].url", "is not a file of this gateway")],
            )

    async def load(self, account_id: str, items: tuple[ReferenceItem, ...]) -> tuple[ReferenceInput, ...]:
        return ()
