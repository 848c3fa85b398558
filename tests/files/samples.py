"""Real media files for the Files API tests, made on the fly."""

from __future__ import annotations

import io
import struct
import zipfile
import zlib
from pathlib import Path

import av
import numpy as np
from PIL import Image

MIB = 1024 * 1024


def png(color: tuple[int, int, int] = (200, 30, 40), size: tuple[int, int] = (64, 48)) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", size, color).save(buffer, "PNG")
    return buffer.getvalue()


def jpeg(color: tuple[int, int, int] = (20, 160, 220), size: tuple[int, int] = (640, 480)) -> bytes:
    buffer = io.BytesIO()
    noise = np.random.default_rng(7).integers(0, 256, (size[1], size[0], 3), dtype=np.uint8)
    picture = Image.blend(Image.new("RGB", size, color), Image.fromarray(noise), 0.3)
    picture.save(buffer, "JPEG", quality=90)
    return buffer.getvalue()


def png_bomb(side: int = 20_000) -> bytes:
    """A valid 1-bit PNG of side x side pixels: tiny on disk, 400 megapixels decoded."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", side, side, 1, 0, 0, 0, 0)
    rows = (b"\x00" + b"\x00" * ((side + 7) // 8)) * side
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(rows, 9))
        + chunk(b"IEND", b"")
    )


def zip_archive() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("cat.png", png())
    return buffer.getvalue()


def mp4(path: Path, *, seconds: float = 1.0, fps: int = 10, size: tuple[int, int] = (128, 96)) -> bytes:
    """An H.264 MP4 of ``seconds`` of a plain colour; returns its bytes."""
    with av.open(str(path), "w") as container:
        stream = container.add_stream("libx264", rate=fps)
        stream.width, stream.height, stream.pix_fmt = size[0], size[1], "yuv420p"
        pixels = np.full((size[1], size[0], 3), (30, 200, 90), dtype=np.uint8)
        for _ in range(round(seconds * fps)):
            for packet in stream.encode(av.VideoFrame.from_ndarray(pixels, format="rgb24")):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return path.read_bytes()
