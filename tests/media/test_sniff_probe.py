"""Media type sniffing and probing, on real files written by Pillow and PyAV."""

from __future__ import annotations

import io
import struct
import zipfile
import zlib
from collections.abc import Callable
from fractions import Fraction
from pathlib import Path
from typing import cast

import av
import pytest
from PIL import Image

from imagine_gateway.core.errors import FieldError, ValidationFailed
from imagine_gateway.media.probe import (
    MAX_IMAGE_PIXELS,
    MediaInfo,
    poster_jpeg,
    probe_file,
    probe_with_poster,
)
from imagine_gateway.media.sniff import ALLOWED_MIME, kind_of, sniff_mime

IMAGE_TYPES = ["image/jpeg", "image/png", "image/webp"]
VIDEO_TYPES = ["video/mp4", "video/quicktime", "video/webm"]
AUDIO_TYPES = ["audio/aac", "audio/mp4", "audio/mpeg", "audio/ogg", "audio/wav", "audio/x-wav"]
ALL_TYPES = sorted(IMAGE_TYPES + VIDEO_TYPES + AUDIO_TYPES)
RED = (255, 0, 0)


def write_image(path: Path, pillow_format: str, size: tuple[int, int] = (40, 30)) -> Path:
    Image.new("RGB", size, (0, 0, 255)).save(path, pillow_format)
    return path


def write_video(
    path: Path, container_format: str, codec: str, *, size: tuple[int, int] = (64, 48), frames: int = 10
) -> Path:
    """A ``frames / 10`` second solid red video at 10 fps."""
    fps = 10
    with av.open(str(path), "w", format=container_format) as container:
        stream = container.add_stream(codec, rate=fps)
        assert isinstance(stream, av.VideoStream)
        stream.width, stream.height = size
        stream.pix_fmt = "yuv420p"
        for index in range(frames):
            frame = av.VideoFrame.from_image(Image.new("RGB", size, RED))  # type: ignore[no-untyped-call]
            frame.pts = index
            frame.time_base = Fraction(1, fps)
            container.mux(stream.encode(frame))
        container.mux(stream.encode(None))
    return path


def write_audio(
    path: Path,
    container_format: str,
    codec: str,
    *,
    rate: int = 48_000,
    seconds: float = 1.0,
    options: dict[str, str] | None = None,
) -> Path:
    """``seconds`` of mono silence."""
    with av.open(str(path), "w", format=container_format, options=options or {}) as container:
        stream = container.add_stream(codec, rate=rate)
        assert isinstance(stream, av.AudioStream)
        stream.layout = "mono"
        sample_format = (stream.codec_context.codec.audio_formats or [])[0].name
        total, written = int(rate * seconds), 0
        while written < total:
            count = min(1024, total - written)
            frame = av.AudioFrame(format=sample_format, layout="mono", samples=count)
            for plane in frame.planes:
                plane.update(bytes(plane.buffer_size))
            frame.sample_rate = rate
            frame.pts = written
            written += count
            container.mux(stream.encode(frame))
        container.mux(stream.encode(None))
    return path


def png_claiming_size(path: Path, width: int, height: int) -> Path:
    """A PNG whose header claims ``width`` x ``height`` but whose pixel data is a few bytes."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    path.write_bytes(
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(b"\x00" * 64))
        + chunk(b"IEND", b"")
    )
    return path


def about(seconds: float, tolerance_s: float) -> float:
    """A duration that compares equal to any float within ``tolerance_s`` of ``seconds``."""
    return cast(float, pytest.approx(seconds, abs=tolerance_s))


SampleWriter = Callable[[Path], Path]

SAMPLES: dict[str, SampleWriter] = {
    "photo.jpg": lambda p: write_image(p, "JPEG"),
    "photo.png": lambda p: write_image(p, "PNG"),
    "photo.webp": lambda p: write_image(p, "WEBP"),
    "anim.gif": lambda p: write_image(p, "GIF"),
    "clip.mp4": lambda p: write_video(p, "mp4", "libx264"),
    "clip.mov": lambda p: write_video(p, "mov", "libx264"),
    "clip.webm": lambda p: write_video(p, "webm", "libvpx"),
    "song.mp3": lambda p: write_audio(p, "mp3", "libmp3lame", rate=44_100),
    "bare.mp3": lambda p: write_audio(
        p, "mp3", "libmp3lame", rate=44_100, options={"id3v2_version": "0", "write_xing": "0"}
    ),
    "song.wav": lambda p: write_audio(p, "wav", "pcm_s16le"),
    "song.m4a": lambda p: write_audio(p, "ipod", "aac"),
    "song.aac": lambda p: write_audio(p, "adts", "aac"),
    "song.ogg": lambda p: write_audio(p, "ogg", "libopus"),
    "voice-only.mp4": lambda p: write_audio(p, "mp4", "aac"),
}


@pytest.fixture(scope="module")
def samples(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("samples")
    return {name: write(folder / name) for name, write in SAMPLES.items()}


def failure(exc_info: pytest.ExceptionInfo[ValidationFailed]) -> tuple[type, list[FieldError]]:
    return type(exc_info.value), exc_info.value.details


# --- sniff_mime ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("photo.jpg", "image/jpeg"),
        ("photo.png", "image/png"),
        ("photo.webp", "image/webp"),
        ("anim.gif", "image/gif"),
        ("clip.mp4", "video/mp4"),
        ("clip.mov", "video/quicktime"),
        ("clip.webm", "video/webm"),
        ("song.mp3", "audio/mpeg"),
        ("bare.mp3", "audio/mpeg"),
        ("song.wav", "audio/wav"),
        ("song.m4a", "audio/mp4"),
        ("song.aac", "audio/aac"),
        ("song.ogg", "audio/ogg"),
    ],
)
def test_sniff_names_the_format_from_the_first_bytes(
    samples: dict[str, Path], name: str, expected: str
) -> None:
    assert sniff_mime(samples[name].read_bytes()[:64]) == expected


def test_sniff_sees_a_bare_mp3_frame_sync_without_an_id3_tag(samples: dict[str, Path]) -> None:
    head = samples["bare.mp3"].read_bytes()[:64]
    assert (head[:3] != b"ID3", head[0], sniff_mime(head)) == (True, 0xFF, "audio/mpeg")


def test_sniff_recognises_a_zip_archive() -> None:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("a.txt", "hello")
    assert sniff_mime(buffer.getvalue()) == "application/zip"


@pytest.mark.parametrize(
    ("head", "expected"),
    [
        (b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n", "application/pdf"),
        (b"hello, world\n", "text/plain"),
        (b"BMW makes cars, and has for a long time", "text/plain"),
        (b"ID3 tags hold an MP3's title and artist", "text/plain"),
        (b"BM\x3a\x00\x00\x00\x00\x00\x00\x00\x36\x00\x00\x00\x28\x00", "image/bmp"),
        ("naïve café".encode()[:-1], "text/plain"),  # a character cut at the end
        (b"\x00\x00\x00\x18ftypXXXX\x00\x00\x00\x00mp42isom", "video/mp4"),  # via a compatible brand
        (b"\x00\x00\x00\x10ftypXXXX\x00\x00\x00\x00", None),
        (b"RIFF\x00\x00\x00\x00XXXX", None),
        (bytes(range(0x80, 0xC0)), None),
        (b"\x00\x01\x02\x03", None),
        (b"", None),
    ],
)
def test_sniff_of_hand_made_heads(head: bytes, expected: str | None) -> None:
    assert sniff_mime(head) == expected


@pytest.mark.parametrize(
    ("mime", "expected"),
    [
        ("image/png", "image"),
        ("image/gif", "image"),
        ("video/webm", "video"),
        ("audio/x-wav", "audio"),
        ("application/zip", None),
        ("text/plain", None),
    ],
)
def test_kind_of_reads_the_top_level_type(mime: str, expected: str | None) -> None:
    assert kind_of(mime) == expected


def test_every_allowed_type_belongs_to_its_kind() -> None:
    assert {mime: kind_of(mime) for kind in ALLOWED_MIME for mime in ALLOWED_MIME[kind]} == {
        mime: kind for kind in ALLOWED_MIME for mime in ALLOWED_MIME[kind]
    }


# --- probe_file: accepted media ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("photo.jpg", MediaInfo("image/jpeg", "image", 40, 30, None)),
        ("photo.png", MediaInfo("image/png", "image", 40, 30, None)),
        ("photo.webp", MediaInfo("image/webp", "image", 40, 30, None)),
        ("clip.mp4", MediaInfo("video/mp4", "video", 64, 48, about(1.0, 0.05))),
        ("clip.mov", MediaInfo("video/quicktime", "video", 64, 48, about(1.0, 0.05))),
        ("clip.webm", MediaInfo("video/webm", "video", 64, 48, about(1.0, 0.05))),
        ("song.mp3", MediaInfo("audio/mpeg", "audio", None, None, about(1.0, 0.1))),
        ("song.wav", MediaInfo("audio/wav", "audio", None, None, about(1.0, 0.01))),
        ("song.m4a", MediaInfo("audio/mp4", "audio", None, None, about(1.0, 0.1))),
        ("song.aac", MediaInfo("audio/aac", "audio", None, None, about(1.0, 0.1))),
        ("song.ogg", MediaInfo("audio/ogg", "audio", None, None, about(1.0, 0.1))),
    ],
)
def test_probe_measures_each_accepted_format(
    samples: dict[str, Path], name: str, expected: MediaInfo
) -> None:
    assert probe_file(samples[name], expected_kind=expected.kind) == expected


def test_probe_ignores_the_file_name(samples: dict[str, Path], tmp_path: Path) -> None:
    disguised = tmp_path / "holiday.jpg"
    disguised.write_bytes(samples["photo.png"].read_bytes())
    assert probe_file(disguised) == MediaInfo("image/png", "image", 40, 30, None)


# --- probe_file: rejections -------------------------------------------------------------------


def test_probe_rejects_an_empty_file(tmp_path: Path) -> None:
    empty = tmp_path / "empty.png"
    empty.touch()
    with pytest.raises(ValidationFailed) as exc_info:
        probe_file(empty, field="image")
    assert failure(exc_info) == (ValidationFailed, [FieldError("image", "file is empty")])


def test_probe_rejects_a_kind_other_than_the_expected_one(samples: dict[str, Path]) -> None:
    with pytest.raises(ValidationFailed) as exc_info:
        probe_file(samples["photo.png"], expected_kind="video", field="video")
    assert failure(exc_info) == (
        ValidationFailed,
        [FieldError("video", "detected image/png, which is not a video", allowed=VIDEO_TYPES)],
    )


def test_probe_rejects_audio_in_an_mp4_when_a_video_is_expected(samples: dict[str, Path]) -> None:
    with pytest.raises(ValidationFailed) as exc_info:
        probe_file(samples["voice-only.mp4"], expected_kind="video")
    assert failure(exc_info) == (
        ValidationFailed,
        [FieldError("file", "detected video/mp4, but it contains no video stream")],
    )


def test_probe_rejects_a_recognised_but_unaccepted_image_type(samples: dict[str, Path]) -> None:
    with pytest.raises(ValidationFailed) as exc_info:
        probe_file(samples["anim.gif"], expected_kind="image")
    assert failure(exc_info) == (
        ValidationFailed,
        [FieldError("file", "detected image/gif, which is not accepted", allowed=IMAGE_TYPES)],
    )


def test_probe_rejects_a_file_that_is_not_media(tmp_path: Path) -> None:
    archive = tmp_path / "photo.png"
    with zipfile.ZipFile(archive, "w") as zipped:
        zipped.writestr("a.txt", "hello")
    with pytest.raises(ValidationFailed) as exc_info:
        probe_file(archive)
    assert failure(exc_info) == (
        ValidationFailed,
        [
            FieldError(
                "file",
                "detected application/zip, which is not an image, a video or an audio file",
                allowed=ALL_TYPES,
            )
        ],
    )


def test_probe_rejects_an_unrecognised_file(tmp_path: Path) -> None:
    noise = tmp_path / "noise.bin"
    noise.write_bytes(bytes(range(0x80, 0x100)) * 4)
    with pytest.raises(ValidationFailed) as exc_info:
        probe_file(noise, expected_kind="audio")
    assert failure(exc_info) == (
        ValidationFailed,
        [FieldError("file", "file type is not recognised", allowed=AUDIO_TYPES)],
    )


@pytest.mark.parametrize(("name", "mime"), [("photo.jpg", "image/jpeg"), ("photo.png", "image/png")])
def test_probe_rejects_a_truncated_image(
    samples: dict[str, Path], tmp_path: Path, name: str, mime: str
) -> None:
    whole = samples[name].read_bytes()
    truncated = tmp_path / name
    truncated.write_bytes(whole[: len(whole) // 2])
    with pytest.raises(ValidationFailed) as exc_info:
        probe_file(truncated)
    assert failure(exc_info) == (ValidationFailed, [FieldError("file", f"could not be decoded as {mime}")])


def test_probe_rejects_an_image_whose_data_is_corrupt(samples: dict[str, Path], tmp_path: Path) -> None:
    whole = samples["photo.webp"].read_bytes()
    corrupt = tmp_path / "corrupt.webp"
    corrupt.write_bytes(whole[:30] + b"\xaa" * (len(whole) - 30))
    with pytest.raises(ValidationFailed) as exc_info:
        probe_file(corrupt)
    assert failure(exc_info) == (ValidationFailed, [FieldError("file", "could not be decoded as image/webp")])


@pytest.mark.parametrize(
    "side",
    [
        8_000,  # 64 Mpx: over our bound, under Pillow's
        10_000,  # 100 Mpx: Pillow warns
        20_000,  # 400 Mpx: Pillow refuses outright
    ],
)
def test_probe_refuses_a_decompression_bomb_before_decoding(tmp_path: Path, side: int) -> None:
    bomb = png_claiming_size(tmp_path / "bomb.png", side, side)
    with pytest.raises(ValidationFailed) as exc_info:
        probe_file(bomb)
    assert failure(exc_info) == (
        ValidationFailed,
        [
            FieldError(
                "file",
                f"image has more than {MAX_IMAGE_PIXELS} pixels",
                allowed=f"at most {MAX_IMAGE_PIXELS} pixels",
            )
        ],
    )


def test_probe_rejects_a_truncated_video(samples: dict[str, Path], tmp_path: Path) -> None:
    truncated = tmp_path / "clip.mp4"
    truncated.write_bytes(samples["clip.mp4"].read_bytes()[:200])
    with pytest.raises(ValidationFailed) as exc_info:
        probe_file(truncated, expected_kind="video")
    assert failure(exc_info) == (ValidationFailed, [FieldError("file", "could not be decoded as video/mp4")])


def test_probe_rejects_a_video_signature_over_garbage(tmp_path: Path) -> None:
    fake = tmp_path / "fake.webm"
    fake.write_bytes(b"\x1a\x45\xdf\xa3" + b"\xff" * 2000)
    with pytest.raises(ValidationFailed) as exc_info:
        probe_file(fake)
    assert failure(exc_info) == (ValidationFailed, [FieldError("file", "could not be decoded as video/webm")])


# --- poster_jpeg ------------------------------------------------------------------------------


def test_poster_is_a_jpeg_of_the_first_frame(samples: dict[str, Path]) -> None:
    poster = Image.open(io.BytesIO(poster_jpeg(samples["clip.mp4"])))
    red, green, blue = poster.getpixel((32, 24))  # type: ignore[misc]
    assert (poster.format, poster.size, red > 200, green < 60, blue < 60) == (
        "JPEG",
        (64, 48),
        True,
        True,
        True,
    )


def test_poster_is_scaled_down_to_max_side(samples: dict[str, Path]) -> None:
    poster = Image.open(io.BytesIO(poster_jpeg(samples["clip.webm"], max_side=32)))
    assert (poster.format, poster.size) == ("JPEG", (32, 24))


def test_poster_of_a_file_without_video_fails(samples: dict[str, Path]) -> None:
    with pytest.raises(ValidationFailed) as exc_info:
        poster_jpeg(samples["song.m4a"], field="video")
    assert failure(exc_info) == (ValidationFailed, [FieldError("video", "contains no video stream")])


# --- probe_with_poster ------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["clip.mp4", "clip.mov", "clip.webm"])
def test_probe_with_poster_measures_a_video_like_probe_file_and_adds_its_poster(
    samples: dict[str, Path], name: str
) -> None:
    info, poster = probe_with_poster(samples[name], expected_kind="video", max_side=32)
    assert poster is not None
    image = Image.open(io.BytesIO(poster))
    red, green, blue = image.getpixel((16, 12))  # type: ignore[misc]
    assert (info, image.format, image.size, red > 200, green < 60, blue < 60) == (
        probe_file(samples[name], expected_kind="video"),
        "JPEG",
        (32, 24),
        True,
        True,
        True,
    )


@pytest.mark.parametrize("name", ["photo.png", "song.m4a"])
def test_probe_with_poster_has_no_poster_for_images_and_audio(samples: dict[str, Path], name: str) -> None:
    assert probe_with_poster(samples[name]) == (probe_file(samples[name]), None)


def test_probe_with_poster_rejects_what_probe_file_rejects(samples: dict[str, Path], tmp_path: Path) -> None:
    truncated = tmp_path / "clip.mp4"
    truncated.write_bytes(samples["clip.mp4"].read_bytes()[:200])
    with pytest.raises(ValidationFailed) as exc_info:
        probe_with_poster(truncated, expected_kind="video", field="result")
    assert failure(exc_info) == (
        ValidationFailed,
        [FieldError("result", "could not be decoded as video/mp4")],
    )
