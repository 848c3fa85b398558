"""Duration tokens: a signed promise of an uploaded video's or audio file's length.

A request that names an uploaded file may carry its ``duration_token`` instead of the gateway
probing the file again; the token binds file, account and duration, and expires with the file.
"""

from __future__ import annotations

from imagine_gateway.core.errors import SignatureInvalid, invalid
from imagine_gateway.core.records import FileRecord
from imagine_gateway.media.signing import sign_token, verify_token


def issue(record: FileRecord, *, secret: bytes) -> str | None:
    """The token of ``record`` (video and audio files with a known duration), else None."""
    if record.kind not in ("video", "audio") or record.duration_s is None:
        return None
    payload: dict[str, object] = {
        "typ": "duration",
        "file": record.id,
        "acct": record.account_id,
        "dur": record.duration_s,
        "exp": record.expires_at // 1000,
    }
    return sign_token(payload, secret=secret)


def verify(token: str, *, secret: bytes, now_s: int, account_id: str, file_id: str, field: str) -> float:
    """The duration ``token`` vouches for; ``ValidationFailed`` naming ``field`` when it is not
    genuine, has expired, or was issued for another file or account."""
    try:
        claims = verify_token(token, secret=secret, now=now_s)
    except SignatureInvalid as exc:
        issue = "has expired" if exc.message == "expired" else "is not a valid duration token"
        raise invalid(field, issue, "the duration_token returned by the Files API for this file") from exc
    duration = claims.get("dur")
    if claims.get("typ") != "duration" or not isinstance(duration, int | float):
        raise invalid(field, "is not a valid duration token")
    if claims.get("acct") != account_id:
        raise invalid(field, "was issued to another account")
    if claims.get("file") != file_id:
        raise invalid(field, "was issued for another file")
    return float(duration)
