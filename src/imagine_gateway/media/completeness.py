"""Does an image file hold all the pixels its header declares?

Pillow fills rows missing from a PNG whose compressed data ends early with zeros and reports the
declared size, so a 400-byte file can pass as a 7000x7000 image. Upstream decoders that are stricter
refuse such a file later, after credits were reserved; this check refuses it at upload.

    missing_png_rows(path)  # None when complete, else (rows found, rows declared)
    jpeg_too_short(path)    # None when plausible, else (bytes present, least bytes the size needs)

PNG: only the inflated length is counted (the data is never held whole): a PNG row is one filter
byte plus its packed samples, so the stream of a complete image has an exact, known length.

JPEG: libjpeg likewise pads a scan that ends early. Huffman coding spends at least one bit on every
8x8 block of every component (its DC code), so a file with fewer bits than blocks cannot hold the
image it declares. This is a lower bound: it refuses a tiny file posing as a large image, not every
truncation.
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


# Huffman-coded frames only: arithmetic coding (SOF9 and up) can spend less than a bit per block.
_SOF_MARKERS = frozenset({0xC0, 0xC1, 0xC2, 0xC3, 0xC5, 0xC6, 0xC7})


def jpeg_too_short(path: pathlib.Path) -> tuple[int, int] | None:
    """``None`` unless the JPEG is shorter than one bit per 8x8 block of the size its frame declares."""
    size = path.stat().st_size
    with path.open("rb") as handle:
        if handle.read(2) != b"\xff\xd8":
            return None
        while True:
            marker = handle.read(2)
            if len(marker) < 2 or marker[0] != 0xFF:
                return None
            if marker[1] in (0xD8, 0x01) or 0xD0 <= marker[1] <= 0xD7:
                continue
            raw = handle.read(2)
            if len(raw) < 2:
                return None
            length = struct.unpack(">H", raw)[0]
            segment = handle.read(max(length - 2, 0))
            if marker[1] in _SOF_MARKERS:
                return _blocks_check(segment, size)
            if marker[1] == 0xDA:  # start of scan before any frame header: not for this check
                return None


def _blocks_check(frame: bytes, size: int) -> tuple[int, int] | None:
    if len(frame) < 6:
        return None
    height, width, count = struct.unpack(">HHB", frame[1:6])
    components = [frame[6 + 3 * i : 9 + 3 * i] for i in range(count)]
    if any(len(c) < 3 for c in components) or not components:
        return None
    h_max = max(c[1] >> 4 for c in components) or 1
    v_max = max(c[1] & 0x0F for c in components) or 1
    blocks = 0
    for component in components:
        h, v = component[1] >> 4, component[1] & 0x0F
        columns = -(-width * h // h_max)
        rows = -(-height * v // v_max)
        blocks += -(-columns // 8) * -(-rows // 8)
    least = (blocks + 7) // 8
    return (size, least) if size < least else None
