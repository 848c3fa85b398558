"""File-type detection: ``sniff_mime`` against filetype and puremagic on the test suite's sample files.

What is timed: detecting the type of each sample's first 64 bytes (what ``sniff_mime`` is given), as
the best of 5 runs of 200 rounds over the 14 samples of ``tests/media/test_sniff_probe.py`` (real
JPEG, PNG, WebP, GIF, MP4, MOV, WebM, MP3, WAV, M4A, AAC and Ogg files written by Pillow and PyAV).
Also printed: every type a library names differently, on those files, a ZIP archive and two
plain-text heads that start with another format's magic. The libraries are not dependencies of the
gateway; the comparison runs for those that are installed (``pip install filetype puremagic``).

    python bench/sniff.py
"""

from __future__ import annotations

import io
import sys
import tempfile
import timeit
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.media.test_sniff_probe import SAMPLES

from imagine_gateway.media.sniff import SNIFF_BYTES, sniff_mime

TEXT_HEADS = {
    "text starting BM": b"BMW makes cars, and has for a long time",
    "text starting ID3": b"ID3 tags hold an MP3's title and artist",
}


def detectors() -> dict[str, Callable[[bytes], str | None]]:
    found: dict[str, Callable[[bytes], str | None]] = {"sniff_mime": sniff_mime}
    try:
        import filetype  # type: ignore[import-not-found]
    except ImportError:
        pass
    else:

        def by_filetype(head: bytes) -> str | None:
            kind: Any = filetype.guess(head)
            return None if kind is None else str(kind.mime)

        found[f"filetype {filetype.__version__}"] = by_filetype
    try:
        import puremagic  # type: ignore[import-not-found]
    except ImportError:
        pass
    else:

        def by_puremagic(head: bytes) -> str | None:
            try:
                return str(puremagic.from_string(head, mime=True)) or None
            except (puremagic.PureError, ValueError):
                return None

        found[f"puremagic {puremagic.__version__}"] = by_puremagic
    return found


def main() -> None:
    with tempfile.TemporaryDirectory() as folder:
        paths = {name: write(Path(folder) / name) for name, write in SAMPLES.items()}
        heads = {name: path.read_bytes()[:SNIFF_BYTES] for name, path in paths.items()}
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w") as writer:
        writer.writestr("a.txt", "hello")
    cases = heads | TEXT_HEADS | {"zip archive": archive.getvalue()[:SNIFF_BYTES]}
    samples = list(heads.values())
    for label, detect in detectors().items():
        best_s = min(timeit.repeat(lambda d=detect: [d(h) for h in samples], number=200, repeat=5))
        per_head_us = best_s / 200 / len(heads) * 1e6
        differs = {name: detect(head) for name, head in cases.items() if detect(head) != sniff_mime(head)}
        print(f"{label:16} {per_head_us:7.2f} us per head   differs from sniff_mime on: {differs or 'none'}")


if __name__ == "__main__":
    main()
