"""Memory under concurrent uploads: image decodes take turns, so eight 7000x7000 uploads at once
(each ~150 MB once decoded) raise the server's peak memory by about two decodes, not eight."""

from __future__ import annotations

import io
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest
from PIL import Image

from tests.reliability.conftest import Scenario
from tests.reliability.served import imagine_serve

SIDE = 7000
DECODED_MIB = SIDE * SIDE * 3 / 2**20  # RGB: ~140 MiB
UPLOADS = 8


def large_png() -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (SIDE, SIDE), (30, 120, 200)).save(buffer, "PNG", compress_level=9)
    return buffer.getvalue()


@pytest.mark.slow
@pytest.mark.serial  # a peak-memory bound: nothing else decodes or allocates on the machine meanwhile
def test_eight_concurrent_large_uploads_raise_peak_memory_by_at_most_the_decode_bound(tmp_path: Path) -> None:
    png = large_png()
    assert len(png) < 1024 * 1024  # small on the wire, large in memory
    with imagine_serve(tmp_path / "home", IMAGINE_MAX_CONCURRENT_DECODES="2") as served:
        key = served.key()

        def upload(index: int) -> int:
            response = httpx.post(
                served.base_url + "/api/v1/files",
                headers=key.headers,
                files={"file": (f"big{index}.png", png, "image/png")},
                data={"kind": "image"},
                timeout=120,
            )
            assert response.status_code == 201, response.text
            assert (response.json()["width"], response.json()["height"]) == (SIDE, SIDE)
            return response.status_code

        upload(0)  # warm: the first decode's memory is the baseline
        before_kib = served.rss_peak_kib()
        with ThreadPoolExecutor(UPLOADS) as pool:
            assert list(pool.map(upload, range(1, UPLOADS + 1))) == [201] * UPLOADS
        grown_mib = (served.rss_peak_kib() - before_kib) / 1024
    # Two decodes at a time (one already counted in the baseline), plus slack for buffers.
    assert grown_mib < 2.5 * DECODED_MIB, f"peak memory grew by {grown_mib:.0f} MiB"
    Scenario(f"{UPLOADS} concurrent {SIDE}x{SIDE} image uploads (decodes bounded at 2)").record(
        tries=UPLOADS,
        unit="uploads",
        accepted=UPLOADS,
        peak_growth_mib=round(grown_mib),
        bound_mib=round(2.5 * DECODED_MIB),
    )
