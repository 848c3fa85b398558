"""What a file is, judged by its first bytes only.

A file's name and the ``Content-Type`` a client declares are both under the client's control, so the
gateway never trusts them: the type is decided by the signature at the start of the content.

    sniff_mime(b"\\x89PNG\\r\\n\\x1a\\n...")  # "image/png"
    kind_of("image/png")                    # "image"

Why not filetype or puremagic: both were measured on the test suite's sample files
(``python bench/sniff.py``) and both misname files this module must get right. filetype names plain
text that starts with ``BM`` or ``ID3`` as BMP and MP3 (the checks of the headers after those magics
below exist for exactly that), has no ``text/plain``, and took 6-9 times as long; puremagic also
names M4A as ``video/mp4``, Ogg as ``application/ogg`` and a ZIP as a Word document, and took a few
hundred times as long.
"""

from __future__ import annotations

from typing import Literal

MediaKind = Literal["image", "video", "audio"]

ALLOWED_MIME: dict[MediaKind, frozenset[str]] = {
    "image": frozenset({"image/jpeg", "image/png", "image/webp"}),
    "video": frozenset({"video/mp4", "video/quicktime", "video/webm"}),
    "audio": frozenset({"audio/mpeg", "audio/mp4", "audio/wav", "audio/x-wav", "audio/aac", "audio/ogg"}),
}

_EXTENSIONS: dict[str, str] = {
    "image/jpeg": "jpg",
    "image/png": "png",
    "image/webp": "webp",
    "video/mp4": "mp4",
    "video/quicktime": "mov",
    "video/webm": "webm",
    "audio/mpeg": "mp3",
    "audio/mp4": "m4a",
    "audio/wav": "wav",
    "audio/x-wav": "wav",
    "audio/aac": "aac",
    "audio/ogg": "ogg",
}


def extension_for(mime: str) -> str:
    """The file extension (no dot) stored files of ``mime`` get; ``bin`` for anything else."""
    return _EXTENSIONS.get(mime, "bin")


SNIFF_BYTES: int = 64
"""How many leading bytes ``sniff_mime`` looks at; reading more is harmless."""

# Fixed signatures at offset 0, checked in order.
_PREFIXES: tuple[tuple[bytes, str], ...] = (
    (b"\xff\xd8\xff", "image/jpeg"),
    (b"\x89PNG\r\n\x1a\n", "image/png"),
    (b"GIF87a", "image/gif"),
    (b"GIF89a", "image/gif"),
    (b"II*\x00", "image/tiff"),
    (b"MM\x00*", "image/tiff"),
    (b"\x1a\x45\xdf\xa3", "video/webm"),  # EBML: WebM and Matroska share it
    (b"OggS", "audio/ogg"),
    (b"fLaC", "audio/flac"),
    (b"%PDF-", "application/pdf"),
    (b"PK\x03\x04", "application/zip"),
    (b"PK\x05\x06", "application/zip"),  # an empty archive
    (b"\x1f\x8b", "application/gzip"),
)

# ISO base media file format (``ftyp`` box) brands. Trailing spaces are part of the four-byte brand.
_FTYP_BRANDS: dict[bytes, str] = {
    b"qt  ": "video/quicktime",
    b"M4A ": "audio/mp4",
    b"M4B ": "audio/mp4",
    b"M4V ": "video/mp4",
    b"isom": "video/mp4",
    b"iso2": "video/mp4",
    b"iso4": "video/mp4",
    b"iso5": "video/mp4",
    b"iso6": "video/mp4",
    b"mp41": "video/mp4",
    b"mp42": "video/mp4",
    b"avc1": "video/mp4",
    b"dash": "video/mp4",
    b"mmp4": "video/mp4",
    b"heic": "image/heic",
    b"heix": "image/heic",
    b"mif1": "image/heif",
    b"avif": "image/avif",
}

# Bytes that do not occur in plain text (C0 controls other than tab, newlines and form feed).
_BINARY_BYTES = frozenset(range(0x20)) - {0x09, 0x0A, 0x0C, 0x0D}


def sniff_mime(head: bytes) -> str | None:
    """Return the MIME type from the file signature in ``head`` (the first ~64 bytes), or ``None``.

    Never looks at a name or a declared type. Formats that are recognised but not accepted
    anywhere (GIF, ZIP, PDF, text, ...) are still named, so errors can say what was sent.
    """
    head = head[:SNIFF_BYTES]
    for prefix, mime in _PREFIXES:
        if head.startswith(prefix):
            return mime
    # Two- and three-byte magics also start ordinary text, so their headers are checked further.
    if head[:2] == b"BM" and len(head) >= 14 and head[6:10] == b"\x00\x00\x00\x00":
        return "image/bmp"
    if head[:3] == b"ID3" and len(head) >= 10 and head[3] in (2, 3, 4) and max(head[6:10]) < 0x80:
        return "audio/mpeg"  # ID3v2 tag: major version 2-4, then a "syncsafe" size
    if head[:4] == b"RIFF" and len(head) >= 12:
        return {b"WEBP": "image/webp", b"WAVE": "audio/wav", b"AVI ": "video/x-msvideo"}.get(head[8:12])
    if head[4:8] == b"ftyp":
        return _ftyp_mime(head)
    if len(head) >= 4 and head[0] == 0xFF:
        return _mpeg_audio_mime(head)
    if _looks_like_text(head):
        return "text/plain"
    return None


def kind_of(mime: str) -> MediaKind | None:
    """Return the media kind of a MIME type (``"video/webm"`` -> ``"video"``), ``None`` for others.

    The kind comes from the top-level type alone; whether the type is accepted is ``ALLOWED_MIME``'s
    business.
    """
    top = mime.partition("/")[0]
    if top == "image":
        return "image"
    if top == "video":
        return "video"
    if top == "audio":
        return "audio"
    return None


def _ftyp_mime(head: bytes) -> str | None:
    major = _FTYP_BRANDS.get(head[8:12])
    if major is not None:
        return major
    # An unfamiliar major brand: the compatible brands that follow the minor version may name one.
    box_size = int.from_bytes(head[0:4], "big")
    end = min(box_size, len(head))
    for offset in range(16, end - 3, 4):
        compatible = _FTYP_BRANDS.get(head[offset : offset + 4])
        if compatible is not None:
            return compatible
    return None


def _mpeg_audio_mime(head: bytes) -> str | None:
    """MPEG audio frame sync: MP3 frames and AAC ADTS frames both start with 0xFFF."""
    b1, b2 = head[1], head[2]
    if b1 & 0xF0 == 0xF0 and (b1 >> 1) & 0b11 == 0:
        # ADTS: layer bits are always 00; sampling-frequency indexes 13-15 are reserved.
        return "audio/aac" if (b2 >> 2) & 0x0F < 13 else None
    if b1 & 0xE0 != 0xE0:
        return None
    version, layer = (b1 >> 3) & 0b11, (b1 >> 1) & 0b11
    bitrate_index, rate_index = b2 >> 4, (b2 >> 2) & 0b11
    if version == 0b01 or layer == 0 or bitrate_index == 0x0F or rate_index == 0b11:
        return None  # reserved values: not a real frame header
    return "audio/mpeg"


def _looks_like_text(head: bytes) -> bool:
    if not head or any(byte in _BINARY_BYTES for byte in head):
        return False
    try:
        head.decode("utf-8")
    except UnicodeDecodeError as exc:
        # A multi-byte character cut by the end of the sample is still text.
        return exc.start >= len(head) - 3 and exc.reason == "unexpected end of data"
    return True
