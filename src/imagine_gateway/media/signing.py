"""Signed, expiring media URLs and compact signed tokens (HMAC-SHA256). Pure: the caller passes the time
and the secret (``load_or_create_key`` reads or makes the secret once, when the gateway starts).

    query = sign_media_path("results/task_abc/0.mp4", expires_at=now + 3600, secret=secret)
    # -> "exp=1767225600&sig=..."; the route checks it with
    verify_media_signature(key, request.query_params.get("exp"), request.query_params.get("sig"),
                           now=now, secret=secret)

    token = sign_token({"file": "file_xyz", "exp": now + 600}, secret=secret)
    payload = verify_token(token, secret=secret, now=now)

Each kind of signature MACs a different domain prefix first, so a media-URL signature is never accepted
as a token signature or the other way round. Both raise ``SignatureInvalid`` with the message
``"invalid signature"`` (tampered, malformed or missing) or ``"expired"``; the signature is checked
before the expiry, so a forged expiry reads as invalid. Something expires at ``expires_at`` exactly.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import os
import secrets
import urllib.parse
from pathlib import Path

from imagine_gateway.core.errors import SignatureInvalid

_MEDIA_DOMAIN = b"imagine-gateway/media-url/v1\x00"
_TOKEN_DOMAIN = b"imagine-gateway/token/v1\x00"
_MAX_EXP_DIGITS = 12


def load_or_create_key(path: Path) -> bytes:
    """The secret kept in ``path``, made (random, mode 0600) when there is none yet.

    Processes starting at once on one home agree: the file appears whole or not at all, and only the
    first made is kept.
    """
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        draft = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}")
        draft.write_text(secrets.token_urlsafe(48))
        draft.chmod(0o600)
        try:
            os.link(draft, path)  # fails if another process made it first
        except FileExistsError:
            pass
        except OSError:  # a file system without hard links
            if not path.exists():
                os.replace(draft, path)
        finally:
            draft.unlink(missing_ok=True)
    key = path.read_text().strip().encode()
    if not key:
        raise ValueError(f"the signing secret in {path} is empty")
    return key


def _mac(secret: bytes, domain: bytes, message: bytes) -> bytes:
    if not secret:
        raise ValueError("signing secret is empty")
    return hmac.new(secret, domain + message, hashlib.sha256).digest()


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    """Strict base64url without padding; ``ValueError`` on anything else."""
    if not text.isascii() or "=" in text:
        raise ValueError("not unpadded base64url")
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _same(expected: str, given: str) -> bool:
    # bytes, because compare_digest refuses non-ASCII str and a query string may carry any text
    return hmac.compare_digest(expected.encode("ascii"), given.encode("utf-8", "replace"))


def _media_sig(key: str, expires_at: int, secret: bytes) -> str:
    # exp is all digits, so the text after the last newline is exp: no two (key, exp) share a message
    return _b64(_mac(secret, _MEDIA_DOMAIN, f"{key}\n{expires_at}".encode()))


def sign_media_path(key: str, *, expires_at: int, secret: bytes) -> str:
    """The query string ``exp=<epoch s>&sig=<base64url>`` granting access to ``key`` until ``expires_at``."""
    if expires_at < 0:
        raise ValueError("expires_at is negative")
    return urllib.parse.urlencode({"exp": expires_at, "sig": _media_sig(key, expires_at, secret)})


def verify_media_signature(key: str, exp: str | None, sig: str | None, *, now: int, secret: bytes) -> None:
    """Return if ``exp``/``sig`` (from the query string) grant access to ``key`` at ``now``, else raise."""
    if exp is None or sig is None or not exp.isascii() or not exp.isdigit() or len(exp) > _MAX_EXP_DIGITS:
        raise SignatureInvalid("invalid signature")
    expires_at = int(exp)
    if not _same(_media_sig(key, expires_at, secret), sig):
        raise SignatureInvalid("invalid signature")
    if now >= expires_at:
        raise SignatureInvalid("expired")


def sign_token(payload: dict[str, object], *, secret: bytes) -> str:
    """A url-safe ``base64url(json).base64url(hmac)`` token; ``payload`` must carry an int ``exp``."""
    exp = payload.get("exp")
    if not isinstance(exp, int) or isinstance(exp, bool):
        raise ValueError("token payload needs an int 'exp' (epoch seconds)")
    body = _b64(json.dumps(payload, separators=(",", ":"), sort_keys=True).encode())
    return f"{body}.{_b64(_mac(secret, _TOKEN_DOMAIN, body.encode('ascii')))}"


def verify_token(token: str, *, secret: bytes, now: int) -> dict[str, object]:
    """The payload of a token signed with ``secret`` that has not expired at ``now``, else raise."""
    body, dot, sig = token.partition(".")
    if not dot or not body.isascii():
        raise SignatureInvalid("invalid signature")
    if not _same(_b64(_mac(secret, _TOKEN_DOMAIN, body.encode("ascii"))), sig):
        raise SignatureInvalid("invalid signature")
    try:
        payload = json.loads(_unb64(body))
    except (ValueError, binascii.Error) as exc:
        # only reachable with a valid MAC over junk, i.e. a token not made by sign_token
        raise SignatureInvalid("invalid signature") from exc
    if not isinstance(payload, dict):
        raise SignatureInvalid("invalid signature")
    claims: dict[str, object] = payload
    exp = claims.get("exp")
    if not isinstance(exp, int) or isinstance(exp, bool):
        raise SignatureInvalid("invalid signature")
    if now >= exp:
        raise SignatureInvalid("expired")
    return claims
