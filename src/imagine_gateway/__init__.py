"""Imagine Gateway: a self-hostable API platform for Grok Imagine image and video generation.

The Python SDK is exported here::

    from imagine_gateway import Client

    client = Client(base_url="http://127.0.0.1:8000", api_key="igw_sk_...")
    done = client.generations.run("grok-imagine-video", "A paper boat on a rainy street")
    print(client.generations.download(done.id, "."))
"""

from imagine_gateway._version import __version__
from imagine_gateway.client._async import AsyncClient
from imagine_gateway.client._base import NOT_GIVEN, NotGiven
from imagine_gateway.client._sync import Client
from imagine_gateway.client.errors import (
    APIConnectionError,
    APIStatusError,
    APITimeoutError,
    AuthenticationError,
    ConflictError,
    GenerationFailedError,
    GenerationNotReadyError,
    ImagineError,
    InsufficientCreditsError,
    InternalServerError,
    NotFoundError,
    PayloadTooLargeError,
    PermissionDeniedError,
    RateLimitError,
    ValidationError,
    WaitTimeoutError,
)
from imagine_gateway.client.models import (
    Credits,
    File,
    Generation,
    GenerationBilling,
    GenerationError,
    GenerationResult,
    Model,
    ModelParam,
    Price,
    PriceLine,
    ReferenceMedia,
    ResultMedia,
    WebhookDelivery,
    WebhookEndpoint,
    WebhookEvent,
)

__all__ = [
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
