"""The package root exports exactly the public SDK: nothing more by accident (as httpx tests it)."""

from __future__ import annotations

import types

import imagine_gateway


def test_every_public_name_of_the_package_is_in_all_and_nothing_else() -> None:
    public = {
        name
        for name, value in vars(imagine_gateway).items()
        if not name.startswith("_") and not isinstance(value, types.ModuleType)
    }
    assert public == set(imagine_gateway.__all__) - {"__version__"}


def test_all_is_sorted_constants_then_classes_then_the_version() -> None:
    def order(name: str) -> tuple[int, str]:
        return (0 if name.isupper() else 1 if name[0].isupper() else 2, name)

    assert imagine_gateway.__all__ == sorted(imagine_gateway.__all__, key=order)


def test_the_exports_are_the_sdk_surface() -> None:
    assert imagine_gateway.__all__ == [
        "NOT_GIVEN",
        "APIConnectionError",
        "APIStatusError",
        "APITimeoutError",
        "AsyncClient",
        "AuthenticationError",
        "Client",
        "ConflictError",
        "Credits",
        "File",
        "Generation",
        "GenerationBilling",
        "GenerationError",
        "GenerationFailedError",
        "GenerationNotReadyError",
        "GenerationResult",
        "ImagineError",
        "InsufficientCreditsError",
        "InternalServerError",
        "Model",
        "ModelParam",
        "NotFoundError",
        "NotGiven",
        "PayloadTooLargeError",
        "PermissionDeniedError",
        "Price",
        "PriceLine",
        "RateLimitError",
        "ReferenceMedia",
        "ResultMedia",
        "ValidationError",
        "WaitTimeoutError",
        "WebhookDelivery",
        "WebhookEndpoint",
        "WebhookEvent",
        "__version__",
    ]
