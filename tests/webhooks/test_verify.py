"""`imagine_gateway.webhooks.verify`: what a receiver calls on every webhook."""

from __future__ import annotations

import json
import time

import pytest

from imagine_gateway import WebhookEvent
from imagine_gateway.delivery.webhooks import new_secret, signature_headers
from imagine_gateway.webhooks import WebhookVerificationError, verify

SECRET = new_secret()
BODY = json.dumps(
    {
        "id": "evt_0123456789abcdefghij",
        "object": "event",
        "type": "generation.succeeded",
        "api_version": "2026-05-11",
        "created_at": "2026-05-11T00:00:00.000Z",
        "data": {"id": "task_0123456789abcdefghij", "status": "succeeded"},
    },
    separators=(",", ":"),
)


def signed(body: str = BODY, *, secret: str = SECRET, age_s: int = 0) -> dict[str, str]:
    return signature_headers(
        secret, msg_id="evt_0123456789abcdefghij", timestamp_s=int(time.time()) - age_s, body=body
    )


def test_a_correctly_signed_body_gives_the_typed_event() -> None:
    event = verify(BODY.encode(), signed(), SECRET)
    assert event == WebhookEvent.model_validate_json(BODY)
    assert (event.type, event.data["id"]) == ("generation.succeeded", "task_0123456789abcdefghij")


def test_header_names_are_matched_in_any_case() -> None:
    headers = {k.upper(): v for k, v in signed().items()}
    assert verify(BODY, headers, SECRET).id == "evt_0123456789abcdefghij"


@pytest.mark.parametrize(
    ("body", "headers", "secret"),
    [
        (BODY.replace("succeeded", "failed"), signed(), SECRET),  # tampered body
        (BODY, signed(), new_secret()),  # another secret
        (BODY, signed(age_s=600), SECRET),  # replayed 10 minutes later
        (BODY, {k: v for k, v in signed().items() if k != "webhook-signature"}, SECRET),
        (BODY, {**signed(), "webhook-signature": "v1,not-base64!"}, SECRET),
    ],
    ids=["tampered", "wrong-secret", "stale", "unsigned", "garbled-signature"],
)
def test_anything_else_raises_webhook_verification_error(
    body: str, headers: dict[str, str], secret: str
) -> None:
    with pytest.raises(WebhookVerificationError):
        verify(body, headers, secret)
