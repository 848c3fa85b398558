"""Reference files for the xAI mode tests: real PNG, MP4 and WAV files uploaded through the Files API."""

from __future__ import annotations

import base64
import io
import wave
from dataclasses import dataclass
from pathlib import Path

from PIL import Image

from imagine_gateway.providers.sandbox import render_video
from tests.conftest import Gateway, Key


def png(shade: int) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (64, 48), (shade, 120, 200)).save(buffer, format="PNG")
    return buffer.getvalue()


def wav(seconds: float = 1.0) -> bytes:
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(8000)
        out.writeframes(b"\x00\x01" * int(8000 * seconds))
    return buffer.getvalue()


def mp4(path: Path, seconds: float) -> bytes:
    render_video("input", 160, 96, seconds, path, fps=4)
    return path.read_bytes()


@dataclass(frozen=True)
class Uploaded:
    url: str
    data: bytes
    mime: str

    @property
    def data_url(self) -> str:
        return f"data:{self.mime};base64,{base64.b64encode(self.data).decode()}"


def upload(gateway: Gateway, key: Key, kind: str, name: str, data: bytes, mime: str) -> Uploaded:
    response = gateway.http.post(
        "/api/v1/files", headers=key.headers, data={"kind": kind}, files={"file": (name, data, mime)}
    )
    assert response.status_code == 201, response.text
    return Uploaded(url=response.json()["url"], data=data, mime=mime)
