"""Signed media URLs and signed tokens: what verifies, and exactly how everything else fails."""

from __future__ import annotations

import base64
import json
import urllib.parse
from collections.abc import Callable

import pytest

from imagine_gateway.core.errors import SignatureInvalid
from imagine_gateway.media.signing import sign_media_path, sign_token, verify_media_signature, verify_token

SECRET = b"test-secret-of-reasonable-length"
KEY = "results/task_abc/0.mp4"
NOW = 1_767_225_600
EXPIRES_AT = NOW + 3600


def query_of(key: str = KEY, *, expires_at: int = EXPIRES_AT, secret: bytes = SECRET) -> dict[str, str]:
    return dict(urllib.parse.parse_qsl(sign_media_path(key, expires_at=expires_at, secret=secret)))


def signature_error(call: Callable[[], object]) -> str:
    """The message of the SignatureInvalid that ``call()`` raises."""
    with pytest.raises(SignatureInvalid) as caught:
        call()
    return caught.value.message


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


# --- media URLs ---


def test_signed_media_path_is_an_exp_and_sig_query_string() -> None:
    query = sign_media_path(KEY, expires_at=EXPIRES_AT, secret=SECRET)

    assert query.startswith(f"exp={EXPIRES_AT}&sig=")
    assert list(query_of()) == ["exp", "sig"]
    assert urllib.parse.quote(query_of()["sig"], safe="") == query_of()["sig"]


def test_signature_is_deterministic_for_the_same_inputs() -> None:
    assert query_of() == query_of()


def test_valid_signature_verifies_until_just_before_expiry() -> None:
    q = query_of()

    verify_media_signature(KEY, q["exp"], q["sig"], now=NOW, secret=SECRET)
    verify_media_signature(KEY, q["exp"], q["sig"], now=EXPIRES_AT - 1, secret=SECRET)


@pytest.mark.parametrize("now", [EXPIRES_AT, EXPIRES_AT + 1, EXPIRES_AT + 10**6])
def test_signature_at_or_after_expiry_is_expired(now: int) -> None:
    q = query_of()

    assert signature_error(
        lambda: verify_media_signature(KEY, q["exp"], q["sig"], now=now, secret=SECRET)
    ) == ("expired")


def test_signature_for_another_key_is_invalid() -> None:
    q = query_of()

    message = signature_error(
        lambda: verify_media_signature("results/task_abc/1.mp4", q["exp"], q["sig"], now=NOW, secret=SECRET)
    )
    assert message == "invalid signature"


def test_extended_expiry_is_invalid_not_just_unexpired() -> None:
    q = query_of()

    message = signature_error(
        lambda: verify_media_signature(KEY, str(EXPIRES_AT + 86400), q["sig"], now=NOW, secret=SECRET)
    )
    assert message == "invalid signature"


def test_expiry_changed_on_an_expired_url_is_invalid() -> None:
    q = query_of(expires_at=NOW - 10)

    message = signature_error(
        lambda: verify_media_signature(KEY, str(NOW + 10), q["sig"], now=NOW, secret=SECRET)
    )
    assert message == "invalid signature"


@pytest.mark.parametrize("position", [0, 10, -1])
def test_signature_with_one_character_changed_is_invalid(position: int) -> None:
    q = query_of()
    sig = list(q["sig"])
    sig[position] = "A" if sig[position] != "A" else "B"

    message = signature_error(
        lambda: verify_media_signature(KEY, q["exp"], "".join(sig), now=NOW, secret=SECRET)
    )
    assert message == "invalid signature"


def test_signature_made_with_another_secret_is_invalid() -> None:
    q = query_of(secret=b"another-secret")

    assert signature_error(
        lambda: verify_media_signature(KEY, q["exp"], q["sig"], now=NOW, secret=SECRET)
    ) == ("invalid signature")


@pytest.mark.parametrize(
    ("exp", "sig"),
    [
        (None, "x"),
        (str(EXPIRES_AT), None),
        (None, None),
        ("", ""),
        ("-1", "x"),
        ("1e9", "x"),
        (" 1767229200", "x"),
        ("١٧٦٧٢٢٩٢٠٠", "x"),  # Arabic-Indic digits: str.isdigit() but not ASCII
        (str(EXPIRES_AT), "ünïcode"),
        ("9" * 40, "x"),
    ],
)
def test_missing_or_malformed_parameters_are_invalid(exp: str | None, sig: str | None) -> None:
    assert signature_error(lambda: verify_media_signature(KEY, exp, sig, now=NOW, secret=SECRET)) == (
        "invalid signature"
    )


def test_empty_secret_is_refused() -> None:
    with pytest.raises(ValueError):
        sign_media_path(KEY, expires_at=EXPIRES_AT, secret=b"")


# --- tokens ---


def test_token_roundtrips_its_payload() -> None:
    payload: dict[str, object] = {"file": "file_xyz", "duration_s": 6.5, "exp": EXPIRES_AT, "tags": ["a"]}

    token = sign_token(payload, secret=SECRET)

    assert verify_token(token, secret=SECRET, now=NOW) == payload
    assert urllib.parse.quote(token, safe="") == token


@pytest.mark.parametrize("now", [EXPIRES_AT, EXPIRES_AT + 1])
def test_token_at_or_after_exp_is_expired(now: int) -> None:
    token = sign_token({"exp": EXPIRES_AT}, secret=SECRET)

    assert signature_error(lambda: verify_token(token, secret=SECRET, now=now)) == "expired"


def test_token_with_rewritten_payload_is_invalid() -> None:
    token = sign_token({"file": "file_xyz", "exp": EXPIRES_AT}, secret=SECRET)
    _, sig = token.split(".")
    forged_body = b64(
        json.dumps({"exp": EXPIRES_AT + 10**6, "file": "file_xyz"}, separators=(",", ":")).encode()
    )

    assert signature_error(lambda: verify_token(f"{forged_body}.{sig}", secret=SECRET, now=NOW)) == (
        "invalid signature"
    )


@pytest.mark.parametrize(
    "mangle",
    [
        lambda t: t[:-1] + ("A" if t[-1] != "A" else "B"),
        lambda t: ("A" if t[0] != "A" else "B") + t[1:],
        lambda t: t.replace(".", ""),
        lambda t: t + ".extra",
        lambda t: t.split(".")[0],
        lambda t: "." + t.split(".")[1],
        lambda t: "",
        lambda t: "ü" + t,
    ],
)
def test_mangled_token_is_invalid(mangle: Callable[[str], str]) -> None:
    token = sign_token({"file": "file_xyz", "exp": EXPIRES_AT}, secret=SECRET)

    assert signature_error(lambda: verify_token(mangle(token), secret=SECRET, now=NOW)) == "invalid signature"


def test_token_signed_with_another_secret_is_invalid() -> None:
    token = sign_token({"exp": EXPIRES_AT}, secret=b"another-secret")

    assert signature_error(lambda: verify_token(token, secret=SECRET, now=NOW)) == "invalid signature"


@pytest.mark.parametrize("payload", [{}, {"exp": "1767229200"}, {"exp": True}, {"exp": 1.5}])
def test_token_payload_without_an_int_exp_is_refused(payload: dict[str, object]) -> None:
    with pytest.raises(ValueError):
        sign_token(payload, secret=SECRET)


# --- domain separation ---


def test_media_signature_is_not_accepted_as_a_token_signature() -> None:
    body = sign_token({"exp": EXPIRES_AT}, secret=SECRET).split(".")[0]
    # a media signature over the token body as key, as an attacker holding media URLs could request
    media_sig = query_of(body)["sig"]

    assert signature_error(lambda: verify_token(f"{body}.{media_sig}", secret=SECRET, now=NOW)) == (
        "invalid signature"
    )


def test_token_signature_is_not_accepted_as_a_media_signature() -> None:
    body, token_sig = sign_token({"exp": EXPIRES_AT}, secret=SECRET).split(".")

    def as_media_signature(key: str) -> str:
        return signature_error(
            lambda: verify_media_signature(key, str(EXPIRES_AT), token_sig, now=NOW, secret=SECRET)
        )

    assert [as_media_signature(body), as_media_signature(KEY)] == ["invalid signature", "invalid signature"]
