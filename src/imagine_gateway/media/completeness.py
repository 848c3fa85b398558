"""Does an image file hold all the pixels its header declares?

Pillow fills rows missing from a PNG whose compressed data ends early with zeros and reports the
declared size, so a 400-byte file can pass as a 7000x7000 image. Upstream decoders that are stricter
refuse such a file later, after credits were reserved; this check refuses it at upload.

    missing_png_rows(path)  # None when complete, else (rows found, rows declared)

Only the inflated length is counted (the data is never held whole): a PNG row is one filter byte
plus its packed samples, so the stream of a complete image has an exact, known length.
"""

from __future__ import annotations

import pathlib
import struct
import zlib
from typing import BinaryIO

_SIGNATURE = b"\x89PNG\r\n\x1a\n"
_CHANNELS = {0: 1, 2: 3, 3: 1, 4: 2, 6: 4}
# Adam7: (first column, first row, column step, row step) of each of its seven passes.
_ADAM7 = ((0, 0, 8, 8), (4, 0, 8, 8), (0, 4, 4, 8), (2, 0, 4, 4), (0, 2, 2, 4), (1, 0, 2, 2), (0, 1, 1, 2))
_INFLATE_STEP = 1 << 20


def missing_png_rows(path: pathlib.Path) -> tuple[int, int] | None:
    """``None`` when the PNG's image data covers every declared row; else (rows present, declared).

    Malformed structure is left to the decoder, which has already refused it by the time this runs.
    """
    with path.open("rb") as handle:
        if handle.read(8) != _SIGNATURE:
            return None
        header = _chunk_header(handle)
        if header is None or header[1] != b"IHDR":
            return None
        ihdr = handle.read(header[0])
        width, height, depth, colour, _, _, interlace = struct.unpack(">IIBBBBB", ihdr[:13])
        handle.read(4)
        bits_per_pixel = _CHANNELS.get(colour, 1) * depth
        rows = _row_sizes(width, height, bits_per_pixel, interlaced=interlace == 1)
        expected = sum(rows)
        inflated = _inflated_length(handle, limit=expected)
    if inflated >= expected:
        return None
    present, total = 0, 0
    for size in rows:
        if total + size > inflated:
            break
        total += size
        present += 1
    # For an interlaced image this counts rows of all passes together: say it in image rows.
    return (present * height) // max(len(rows), 1), height


def _row_sizes(width: int, height: int, bits_per_pixel: int, *, interlaced: bool) -> list[int]:
    def row_bytes(pixels: int) -> int:
        return 1 + (pixels * bits_per_pixel + 7) // 8

    if not interlaced:
        return [row_bytes(width)] * height
    sizes: list[int] = []
    for x0, y0, dx, dy in _ADAM7:
        columns = (width - x0 + dx - 1) // dx if width > x0 else 0
        lines = (height - y0 + dy - 1) // dy if height > y0 else 0
        if columns and lines:
            sizes.extend([row_bytes(columns)] * lines)
    return sizes


def _chunk_header(handle: BinaryIO) -> tuple[int, bytes] | None:
    raw = handle.read(8)
    if len(raw) < 8:
        return None
    length, kind = struct.unpack(">I4s", raw)
    return int(length), bytes(kind)


def _inflated_length(handle: BinaryIO, *, limit: int) -> int:
    """Bytes the IDAT chunks inflate to, counting no further than ``limit``."""
    inflater = zlib.decompressobj()
    total = 0
    while total < limit:
        header = _chunk_header(handle)
        if header is None or header[1] == b"IEND":
            break
        length, kind = header
        data: bytes = handle.read(length)
        handle.read(4)
        if kind != b"IDAT":
            continue
        try:
            pending = data
            while pending and total < limit:
                total += len(inflater.decompress(pending, _INFLATE_STEP))
                pending = inflater.unconsumed_tail
            if inflater.eof:
                break
        except zlib.error:
            break
    return total
