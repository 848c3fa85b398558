"""What the log redaction and the provider-message masking cut, and what they leave."""

from __future__ import annotations

import io
import json
import logging

from imagine_gateway.providers.router import mask_secrets
from imagine_gateway.settings import load_settings
from imagine_gateway.telemetry.logs import REDACTED, Redactor, configure_logging


def test_the_redactor_cuts_keys_secrets_tokens_and_url_signatures_but_keeps_the_rest() -> None:
    redact = Redactor(["my-configured-secret-value"])
    line = (
        "key igw_sk_AbC123_-xyz webhook whsec_QUJDREVGR0g= upstream xai-abcdefgh12345678 "
        "header Authorization: Bearer tok.en-123 url https://h/media/r/0.mp4?exp=17&sig=AbC_d-9 "
        "s3 https://b.s3/k?X-Amz-Credential=AKIA%2F1&X-Amz-Signature=deadbeef&x=1 "
        "literal my-configured-secret-value task task_Abc"
    )

    assert redact(line) == (
        f"key {REDACTED} webhook {REDACTED} upstream {REDACTED} "
        f"header Authorization: Bearer {REDACTED} url https://h/media/r/0.mp4?exp=17&sig={REDACTED} "
        f"s3 https://b.s3/k?X-Amz-Credential={REDACTED}&X-Amz-Signature={REDACTED}&x=1 "
        f"literal {REDACTED} task task_Abc"
    )


def test_a_json_line_stays_json_when_a_signed_url_inside_it_is_cut() -> None:
    stream = io.StringIO()
    handler = configure_logging(load_settings(secret_key="signing-secret-123456789"), stream=stream)
    try:
        logging.getLogger("imagine_gateway.test").warning(
            "payload %s", json.dumps({"url": "http://h/m?exp=1&sig=SECRETSIG"}), extra={"task_id": "task_1"}
        )
    finally:
        logging.getLogger().removeHandler(handler)

    line = json.loads(stream.getvalue())
    assert (line["level"], line["logger"], line["task_id"]) == ("warning", "imagine_gateway.test", "task_1")
    assert line["message"] == 'payload {"url": "http://h/m?exp=1&sig=[redacted]"}'


def test_an_upstream_message_is_masked_down_to_the_first_characters_of_a_key() -> None:
    message = "xai answered 400: Incorrect API key provided: xai-0123456789abcdefghijkl. See console.x.ai."

    assert mask_secrets(message) == "xai answered 400: Incorrect API key provided: xai-***. See console.x.ai."
