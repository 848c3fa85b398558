"""Pixel sizes of generated media, keyed by the aspect ratio (and resolution) a request names.

Images are about one megapixel with both sides a multiple of 16 and the ratio exact. Videos follow
xAI's published table for Grok Imagine video; 1080p is not listed because the sandbox does not offer it.
"""

from __future__ import annotations

IMAGE_DIMENSIONS: dict[str, tuple[int, int]] = {
    "1:1": (1024, 1024),
    "2:3": (832, 1248),
    "3:2": (1248, 832),
    "16:9": (1280, 720),
    "9:16": (720, 1280),
    "4:3": (1152, 864),
    "3:4": (864, 1152),
}

VIDEO_DIMENSIONS: dict[tuple[str, str], tuple[int, int]] = {
    ("480p", "1:1"): (480, 480),
    ("480p", "16:9"): (848, 480),
    ("480p", "9:16"): (480, 848),
    ("480p", "4:3"): (640, 480),
    ("480p", "3:4"): (480, 640),
    ("480p", "3:2"): (720, 480),
    ("480p", "2:3"): (480, 720),
    ("720p", "1:1"): (720, 720),
    ("720p", "16:9"): (1280, 720),
    ("720p", "9:16"): (720, 1280),
    ("720p", "4:3"): (960, 720),
    ("720p", "3:4"): (720, 960),
    ("720p", "3:2"): (1080, 720),
    ("720p", "2:3"): (720, 1080),
}


def image_size(aspect_ratio: str) -> tuple[int, int]:
    """Return ``(width, height)`` of a generated image, e.g. ``image_size("16:9") == (1280, 720)``.

    Raises ``ValueError`` for an aspect ratio not in ``IMAGE_DIMENSIONS``.
    """
    try:
        return IMAGE_DIMENSIONS[aspect_ratio]
    except KeyError:
        allowed = ", ".join(IMAGE_DIMENSIONS)
        raise ValueError(f"unknown image aspect ratio {aspect_ratio!r}; allowed: {allowed}") from None


def video_size(resolution: str, aspect_ratio: str) -> tuple[int, int]:
    """Return ``(width, height)`` of a generated video, e.g. ``video_size("480p", "16:9") == (848, 480)``.

    Raises ``ValueError`` for a combination not in ``VIDEO_DIMENSIONS``.
    """
    try:
        return VIDEO_DIMENSIONS[(resolution, aspect_ratio)]
    except KeyError:
        allowed = ", ".join(f"{res} {ratio}" for res, ratio in VIDEO_DIMENSIONS)
        raise ValueError(f"unknown video size {resolution!r} {aspect_ratio!r}; allowed: {allowed}") from None
