"""HTTP responses for stored blobs: ETag revalidation and single byte ranges (RFC 9110).

    @app.get("/media/{key:path}")
    async def media(request: Request, key: str) -> Response:
        return await blob_response(storage, key, range_header=request.headers.get("range"),
                                   if_none_match=request.headers.get("if-none-match"),
                                   method=request.method)

What the caller sees:

- 200 with the whole body, ``ETag``, ``Accept-Ranges: bytes`` and ``Cache-Control``;
- 206 with ``Content-Range`` for one range: ``bytes=a-b``, ``bytes=a-`` or ``bytes=-n``;
- a request for several ranges, or a Range header that does not parse, gets the whole body (200), as
  RFC 9110 allows: browsers and players ask for one range, and multipart/byteranges is not worth it;
- 304 when ``If-None-Match`` names the blob's ETag (weak comparison, ``*`` matches any blob);
- ``HEAD``: the same status and headers, no body; Range is ignored on HEAD, as RFC 9110 says;
- ``BlobRangeNotSatisfiable`` (a ``RangeNotSatisfiable``, 416) when the range starts past the end; its
  ``content_range`` (``bytes */<size>``) is the header the error response should carry;
- ``NotFound`` when nothing is stored under the key;
- with ``redirect_ttl_s`` (the ``IMAGINE_S3_PRESIGNED_REDIRECTS`` setting), a GET of an S3 blob gets
  a 307 to S3's own presigned URL instead of the bytes; the 404 and 304 answers above come first.

``If-Range`` is not evaluated: blobs are immutable under their key, so a range always matches.

Why not Starlette's ``FileResponse`` (1.x handles Range too): it serves only local files, so S3 blobs
need this code anyway, and it answers differently from the behaviour above that clients already see:
several ranges get ``multipart/byteranges``; a malformed Range (``bytes=9-3``, ``bytes=abc``,
``items=0-5``) gets a plain-text 400 instead of the whole body; HEAD with Range gets 206; a 416 has an
empty ``text/plain`` body instead of the error envelope; a suffix range of an empty blob is 416;
``text/*`` types gain ``; charset=utf-8``; and it adds ``Last-Modified``.
"""

from __future__ import annotations

import re
import urllib.parse
from collections.abc import AsyncIterator
from dataclasses import dataclass

from starlette.responses import Response, StreamingResponse

from imagine_gateway.core.errors import FieldError, MethodNotAllowed, NotFound, RangeNotSatisfiable
from imagine_gateway.media.storage.base import Storage, StoredBlob

DEFAULT_CACHE_MAX_AGE_S = 3600
PRESIGNED_URL_TTL_S = 300
"""The longest a presigned URL that media GETs redirect to stays valid."""

_RANGE_UNIT = re.compile(r"^\s*bytes\s*=(.*)$", re.IGNORECASE | re.DOTALL)
_RANGE_SPEC = re.compile(r"^\s*(\d*)\s*-\s*(\d*)\s*$")
_UNSAFE_FILENAME_CHARS = re.compile(r"[^A-Za-z0-9._ ()+-]")
_MAX_POSITION_DIGITS = 18  # every blob size fits in 18 digits (under an exabyte)
_BEYOND_ANY_BLOB = 10**_MAX_POSITION_DIGITS


@dataclass
class BlobRangeNotSatisfiable(RangeNotSatisfiable):
    """416 for a blob of ``size_bytes``; render it with ``Content-Range: <content_range>``."""

    size_bytes: int = 0

    @property
    def content_range(self) -> str:
        return f"bytes */{self.size_bytes}"


def parse_range(range_header: str | None, size_bytes: int) -> tuple[int, int] | None:
    """The inclusive byte span one ``Range`` header asks for, or ``None`` for the whole body.

    ``None`` also for headers this module answers with the whole body (several ranges, bad syntax, an
    empty blob). Raises ``BlobRangeNotSatisfiable`` when the single range lies beyond the blob.
    """
    if range_header is None:
        return None
    unit = _RANGE_UNIT.match(range_header)
    if unit is None:
        return None
    specs = [spec for spec in unit.group(1).split(",") if spec.strip()]
    if len(specs) != 1:
        return None
    spec = _RANGE_SPEC.match(specs[0])
    if spec is None or spec.group(1) == spec.group(2) == "":
        return None
    first, last = spec.group(1), spec.group(2)
    if first == "":
        suffix_bytes = _position(last)
        if suffix_bytes == 0:
            raise _unsatisfiable(range_header, size_bytes)
        if size_bytes == 0:
            return None
        return max(0, size_bytes - suffix_bytes), size_bytes - 1
    start = _position(first)
    if last != "" and _position(last) < start:
        return None  # invalid, so ignored (RFC 9110 section 14.2)
    if start >= size_bytes:
        raise _unsatisfiable(range_header, size_bytes)
    end = size_bytes - 1 if last == "" else min(_position(last), size_bytes - 1)
    return start, end


def _position(digits: str) -> int:
    """A byte position; one past any blob's size when it has more digits than a blob could need.

    RFC 9110 puts no bound on the digits: a 5,000-digit position is valid syntax meaning "beyond the
    end", so it is read as such (416 for a first position, the last byte for a last one) without
    converting it, which Python refuses past 4,300 digits.
    """
    return int(digits) if len(digits) <= _MAX_POSITION_DIGITS else _BEYOND_ANY_BLOB


def _shown(range_header: str) -> str:
    shown = range_header.strip()
    return shown if len(shown) <= 64 else f"{shown[:48]}... ({len(shown)} characters)"


def _unsatisfiable(range_header: str, size_bytes: int) -> BlobRangeNotSatisfiable:
    allowed = f"bytes=0-{size_bytes - 1}" if size_bytes else "no range: the content is empty"
    return BlobRangeNotSatisfiable(
        f"range {_shown(range_header)!r} is outside the content of {size_bytes} bytes",
        [FieldError("Range", "starts past the end of the content", allowed)],
        size_bytes=size_bytes,
    )


def etag_matches(if_none_match: str | None, etag: str) -> bool:
    """Whether an ``If-None-Match`` header names ``etag`` (weak comparison) or is ``*``."""
    if if_none_match is None:
        return False
    for candidate in if_none_match.split(","):
        tag = candidate.strip()
        if tag == "*":
            return True
        if tag.startswith("W/"):
            tag = tag[2:]
        if tag == f'"{etag}"':
            return True
    return False


def content_disposition(download_name: str) -> str:
    """``attachment`` with an ASCII ``filename`` fallback and the exact name as RFC 5987 ``filename*``."""
    base = download_name.replace("\\", "/").rsplit("/", 1)[-1]
    fallback = _UNSAFE_FILENAME_CHARS.sub("_", base).strip(" .") or "download"
    exact = urllib.parse.quote(base, safe="") or "download"
    return f"attachment; filename=\"{fallback}\"; filename*=UTF-8''{exact}"


def _header_safe_content_type(content_type: str) -> str:
    # a stored type came from a client once: never let it break or inject a header line
    if not content_type.isascii() or any(ord(ch) < 0x20 or ord(ch) == 0x7F for ch in content_type):
        return "application/octet-stream"
    return content_type


async def blob_response(
    storage: Storage,
    key: str,
    *,
    range_header: str | None,
    if_none_match: str | None,
    download_name: str | None = None,
    method: str = "GET",
    cache_max_age_s: int = DEFAULT_CACHE_MAX_AGE_S,
    redirect_ttl_s: int | None = None,
) -> Response:
    """The 200, 206, 304 or 307 response for the blob under ``key`` (see the module docstring).

    With ``redirect_ttl_s``, a GET the backend can presign is answered with a 307 to that URL, valid
    for ``redirect_ttl_s`` seconds; HEAD, 304 and backends without such URLs are answered as usual.
    """
    method = method.upper()
    if method not in ("GET", "HEAD"):
        raise MethodNotAllowed(f"method {method} is not allowed for media; use GET or HEAD")
    blob = await storage.stat(key)
    if blob is None:
        raise NotFound("media not found")
    headers = {
        "ETag": f'"{blob.etag}"',
        "Cache-Control": f"private, max-age={cache_max_age_s}",
        "Accept-Ranges": "bytes",
    }
    if etag_matches(if_none_match, blob.etag):
        return Response(status_code=304, headers=headers)
    headers["Content-Type"] = _header_safe_content_type(blob.content_type)
    headers["X-Content-Type-Options"] = "nosniff"
    if download_name is not None:
        headers["Content-Disposition"] = content_disposition(download_name)
    if redirect_ttl_s is not None and method == "GET":
        # A presigned URL is signed for one method, so HEAD stays here (it moves no bytes anyway).
        location = await storage.presigned_get_url(
            key,
            expires_in_s=redirect_ttl_s,
            content_type=headers["Content-Type"],
            content_disposition=headers.get("Content-Disposition"),
            cache_control=headers["Cache-Control"],
        )
        if location is not None:
            # no-store: a cached redirect would outlive the presigned URL it points to.
            return Response(status_code=307, headers={"Location": location, "Cache-Control": "no-store"})
    span = parse_range(range_header, blob.size_bytes) if method == "GET" else None
    status = 200
    start, end = 0, blob.size_bytes - 1
    if span is not None:
        status = 206
        start, end = span
        headers["Content-Range"] = f"bytes {start}-{end}/{blob.size_bytes}"
    headers["Content-Length"] = str(end - start + 1)
    if method == "HEAD":
        return Response(status_code=status, headers=headers)
    return StreamingResponse(_body(storage, blob, start, end), status_code=status, headers=headers)


async def _body(storage: Storage, blob: StoredBlob, start: int, end: int) -> AsyncIterator[bytes]:
    if blob.size_bytes == 0:
        return
    async for chunk in storage.read_range(blob.key, start, end):
        yield chunk
