"""Check that a media file is what its signature says, and measure it.

Images are fully decoded with Pillow; video and audio are opened with PyAV and their first frame is
decoded. Everything here is synchronous and CPU-bound: async callers run it in a thread.

    info = probe_file(Path("upload.bin"), expected_kind="image")
    # MediaInfo(mime_type='image/png', kind='image', width=1024, height=768, duration_s=None)
    info, poster = probe_with_poster(Path("result.mp4"), expected_kind="video")
    # the same checks, plus a JPEG of the first frame rendered from the frame the probe decoded
"""

from __future__ import annotations

import io
import pathlib
from dataclasses import dataclass
from typing import Any

import av
from PIL import Image

from imagine_gateway.core.errors import invalid
from imagine_gateway.media.completeness import jpeg_too_short, missing_png_rows
from imagine_gateway.media.sniff import ALLOWED_MIME, SNIFF_BYTES, MediaKind, kind_of, sniff_mime

MAX_IMAGE_PIXELS: int = 50_000_000
"""Largest ``width * height`` decoded; checked from the header before any pixel is decoded."""

_KIND_NAMES: dict[MediaKind, str] = {"image": "an image", "video": "a video", "audio": "an audio file"}

# Pillow format per sniffed type, so a file is decoded only as the format its signature names.
_PILLOW_FORMATS: dict[str, str] = {"image/jpeg": "JPEG", "image/png": "PNG", "image/webp": "WEBP"}

# FFmpeg demuxer per sniffed type, for the same reason.
_DEMUXERS: dict[str, str] = {
    "video/mp4": "mov",
    "video/quicktime": "mov",
    "audio/mp4": "mov",
    "video/webm": "matroska",
    "audio/mpeg": "mp3",
    "audio/wav": "wav",
    "audio/x-wav": "wav",
    "audio/aac": "aac",
    "audio/ogg": "ogg",
}

_POSTER_JPEG_QUALITY = 85

POSTER_MAX_SIDE = 1280
"""Default longest side of a poster frame, in pixels."""


@dataclass(frozen=True)
class MediaInfo:
    """What ``probe_file`` found: sniffed type, kind, pixel size (visual media) and duration (timed)."""

    mime_type: str
    kind: MediaKind
    width: int | None
    height: int | None
    duration_s: float | None


def probe_file(
    path: pathlib.Path, *, expected_kind: MediaKind | None = None, field: str = "file"
) -> MediaInfo:
    """Sniff, validate and measure the media file at ``path``.

    Raises ``ValidationFailed`` naming ``field`` when the file is empty, of a type that is not
    accepted (or not ``expected_kind``), too large in pixels, or cannot be decoded.
    """
    return _probe(path, expected_kind, field, poster_max_side=None)[0]


def probe_with_poster(
    path: pathlib.Path,
    *,
    expected_kind: MediaKind | None = None,
    field: str = "file",
    max_side: int = POSTER_MAX_SIDE,
) -> tuple[MediaInfo, bytes | None]:
    """``probe_file`` plus, for a video, ``poster_jpeg`` of the frame the probe decoded.

    One open and one decode instead of two: same checks and errors as ``probe_file``. The poster is
    ``None`` for images and audio.
    """
    return _probe(path, expected_kind, field, poster_max_side=max_side)


def poster_jpeg(path: pathlib.Path, *, max_side: int = POSTER_MAX_SIDE, field: str = "file") -> bytes:
    """Return a JPEG of the first decodable video frame at ``path``, scaled to fit ``max_side``.

    Raises ``ValidationFailed`` naming ``field`` when the file has no decodable video frame.
    """
    try:
        with av.open(str(path)) as container:
            if not container.streams.video:
                raise invalid(field, "contains no video stream")
            frame = _first_frame(container, container.streams.video[0])
            if frame is None:
                raise invalid(field, "contains no decodable video frame")
            image: Image.Image = _rgb_image(frame)
    except (av.FFmpegError, OSError) as exc:
        raise invalid(field, "could not be decoded as video") from exc
    return _jpeg(image, max_side)


def _probe(
    path: pathlib.Path, expected_kind: MediaKind | None, field: str, *, poster_max_side: int | None
) -> tuple[MediaInfo, bytes | None]:
    with path.open("rb") as handle:
        head = handle.read(SNIFF_BYTES)
    if not head:
        raise invalid(field, "file is empty")
    mime, kind = _accepted_type(sniff_mime(head), expected_kind, field)
    if kind == "image":
        width, height = _decode_image(path, mime, field)
        return MediaInfo(mime, kind, width, height, None), None
    return _probe_timed(path, mime, kind, field, poster_max_side)


def _first_frame(container: Any, stream: Any) -> Any:
    """The stream's first decodable frame, or ``None``.

    One decoder thread: FFmpeg's default (one per core, plus one) starts a pool per open, which for a
    single frame costs more CPU than it saves wall time (and the worker runs one collect per core).
    """
    stream.codec_context.thread_count = 1
    return next(container.decode(stream), None)


def _rgb_image(frame: Any) -> Image.Image:
    # One scaler thread, for the reason ``_first_frame`` uses one decoder thread: swscale's default
    # starts a pool per conversion, which for a single frame costs more than the conversion.
    image: Image.Image = frame.to_image(threads=1)
    return image


def _jpeg(image: Image.Image, max_side: int) -> bytes:
    if image.mode != "RGB":
        image = image.convert("RGB")
    image.thumbnail((max_side, max_side), Image.Resampling.LANCZOS)
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=_POSTER_JPEG_QUALITY)
    return buffer.getvalue()


def _accepted_type(mime: str | None, expected_kind: MediaKind | None, field: str) -> tuple[str, MediaKind]:
    kinds: tuple[MediaKind, ...] = (expected_kind,) if expected_kind else ("image", "video", "audio")
    allowed = sorted(set().union(*(ALLOWED_MIME[k] for k in kinds)))
    names = [_KIND_NAMES[k] for k in kinds]
    wanted = names[0] if len(names) == 1 else f"{', '.join(names[:-1])} or {names[-1]}"
    if mime is None:
        raise invalid(field, "file type is not recognised", allowed=allowed)
    kind = kind_of(mime)
    if kind is None or kind not in kinds:
        raise invalid(field, f"detected {mime}, which is not {wanted}", allowed=allowed)
    if mime not in ALLOWED_MIME[kind]:
        raise invalid(field, f"detected {mime}, which is not accepted", allowed=allowed)
    return mime, kind


def _decode_image(path: pathlib.Path, mime: str, field: str) -> tuple[int, int]:
    too_large = f"image has more than {MAX_IMAGE_PIXELS} pixels"
    try:
        # Pillow's own bomb guard fires inside open(); under a warnings-as-errors filter even its
        # warning arrives as an exception. Either way the image is too large.
        with Image.open(path, formats=[_PILLOW_FORMATS[mime]]) as image:
            width, height = image.size
            if width * height > MAX_IMAGE_PIXELS:
                raise invalid(field, too_large, allowed=f"at most {MAX_IMAGE_PIXELS} pixels")
            image.load()
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise invalid(field, too_large, allowed=f"at most {MAX_IMAGE_PIXELS} pixels") from exc
    except (OSError, SyntaxError, ValueError, EOFError, IndexError, KeyError, TypeError) as exc:
        # Malformed input makes Pillow's decoders raise any of these; all mean "not a valid image".
        raise invalid(field, f"could not be decoded as {mime}") from exc
    if mime == "image/png" and (missing := missing_png_rows(path)) is not None:
        present, declared = missing
        raise invalid(field, f"is truncated: its data holds {present} of the {declared} rows it declares")
    if mime == "image/jpeg" and (short := jpeg_too_short(path)) is not None:
        present, least = short
        raise invalid(
            field, f"is truncated: {present} bytes cannot hold a {width}x{height} image (at least {least})"
        )
    return width, height


def _probe_timed(
    path: pathlib.Path, mime: str, kind: MediaKind, field: str, poster_max_side: int | None
) -> tuple[MediaInfo, bytes | None]:
    try:
        with av.open(str(path), format=_DEMUXERS[mime]) as container:
            streams = container.streams.video if kind == "video" else container.streams.audio
            if not streams:
                raise invalid(field, f"detected {mime}, but it contains no {kind} stream")
            stream = streams[0]
            frame = _first_frame(container, stream)
            if frame is None:
                raise invalid(field, f"could not be decoded as {mime}: no {kind} frame")
            duration_s = _duration_s(container, stream)
            if kind != "video":
                return MediaInfo(mime, kind, None, None, duration_s), None
            context: Any = stream.codec_context
            info = MediaInfo(mime, kind, int(context.width), int(context.height), duration_s)
            if poster_max_side is None:
                return info, None
            image: Image.Image = _rgb_image(frame)
    except (av.FFmpegError, OSError) as exc:
        raise invalid(field, f"could not be decoded as {mime}") from exc
    return info, _jpeg(image, poster_max_side)


def _duration_s(container: Any, stream: Any) -> float | None:
    # The stream's own duration is exact when the container records it; WebM and raw streams only
    # carry the container-wide one.
    if stream.duration is not None and stream.time_base is not None:
        return float(stream.duration * stream.time_base)
    if container.duration is not None:
        return float(container.duration / av.time_base)
    return None
