"""Verify the webhooks the gateway sends (Standard Webhooks signatures).

    from imagine_gateway import webhooks

    @app.post("/hooks/imagine")
    async def hook(request: Request) -> Response:
        event = webhooks.verify(await request.body(), request.headers, secret="whsec_...")
        if event.type == "generation.succeeded":
            print(event.data["result"]["primary_url"])
        return Response(status_code=204)

Verify the raw body bytes exactly as received: parsing and re-serialising JSON changes the bytes
and breaks the signature.
"""

from __future__ import annotations

from collections.abc import Mapping

from standardwebhooks.webhooks import Webhook
from standardwebhooks.webhooks import WebhookVerificationError as _LibraryVerificationError

from imagine_gateway.client.errors import ImagineError
from imagine_gateway.client.models import WebhookEvent

__all__ = ["WebhookVerificationError", "verify"]


class WebhookVerificationError(ImagineError):
    """The body was not signed with this secret, a header is missing, or the timestamp is stale."""


def verify(payload: bytes | str, headers: Mapping[str, str], secret: str) -> WebhookEvent:
    """The event in ``payload`` after checking its ``webhook-signature`` against ``secret``.

    ``headers`` needs ``webhook-id``, ``webhook-timestamp`` and ``webhook-signature`` (any case);
    a timestamp more than 5 minutes from now is refused, which stops replays.
    """
    try:
        Webhook(secret).verify(payload, {k: v for k, v in headers.items()}, json_parse=False)
    except _LibraryVerificationError as exc:
        raise WebhookVerificationError(str(exc)) from exc
    except (ValueError, TypeError) as exc:  # a malformed secret or signature header
        raise WebhookVerificationError(f"cannot verify: {exc}") from exc
    return WebhookEvent.model_validate_json(payload)
