"""The sandbox renderer: real PNG/MP4/JPEG output, labelled, deterministic, reference-aware."""

from __future__ import annotations

import io
import math
from collections.abc import Callable
from fractions import Fraction
from pathlib import Path

import av
import pytest
from PIL import Image, ImageChops

from imagine_gateway.media.dimensions import IMAGE_DIMENSIONS, VIDEO_DIMENSIONS, image_size, video_size
from imagine_gateway.providers.sandbox import SANDBOX_MARK, render_image, render_poster, render_video

BANNER_YELLOW = (255, 210, 31)
TEAL = (30, 160, 90)

MakeReference = Callable[..., bytes]


@pytest.fixture
def make_reference() -> MakeReference:
    """Return ``create(colour, size, fmt)`` giving encoded bytes of a solid image."""

    def create(colour: tuple[int, ...] = TEAL, size: tuple[int, int] = (400, 300), fmt: str = "PNG") -> bytes:
        mode = "RGBA" if len(colour) == 4 else "RGB"
        buffer = io.BytesIO()
        Image.new(mode, size, colour).save(buffer, fmt)
        return buffer.getvalue()

    return create


def decode(png_or_jpeg: bytes) -> Image.Image:
    image = Image.open(io.BytesIO(png_or_jpeg))
    image.load()
    return image


def video_frames(path: Path) -> list[Image.Image]:
    with av.open(str(path)) as container:
        return [frame.to_image() for frame in container.decode(video=0)]  # type: ignore[no-untyped-call]


def pixel(image: Image.Image, xy: tuple[int, int]) -> tuple[int, ...]:
    value = image.getpixel(xy)
    assert isinstance(value, tuple)
    return value


def close_to(actual: tuple[int, ...], expected: tuple[int, ...], tolerance: int) -> bool:
    return all(abs(a - e) <= tolerance for a, e in zip(actual, expected, strict=True))


def changed_box(first: Image.Image, second: Image.Image, threshold: int = 40) -> tuple[int, ...] | None:
    """Bounding box of pixels that differ by more than ``threshold`` (ignores codec noise)."""
    difference = ImageChops.difference(first.convert("L"), second.convert("L"))
    return difference.point(lambda value: 255 if value > threshold else 0).getbbox()


# --- dimensions -----------------------------------------------------------------------------------


def test_image_dimensions_cover_the_supported_aspect_ratios() -> None:
    assert set(IMAGE_DIMENSIONS) == {"1:1", "2:3", "3:2", "16:9", "9:16", "4:3", "3:4"}


@pytest.mark.parametrize("aspect_ratio", sorted(IMAGE_DIMENSIONS))
def test_image_size_is_about_one_megapixel_in_the_exact_ratio_with_sides_multiple_of_16(
    aspect_ratio: str,
) -> None:
    width, height = image_size(aspect_ratio)
    ratio_w, ratio_h = (int(part) for part in aspect_ratio.split(":"))

    assert (width * ratio_h, width % 16, height % 16) == (height * ratio_w, 0, 0)
    assert 0.9e6 <= width * height <= 1.1e6


def test_video_dimensions_follow_the_xai_table() -> None:
    assert VIDEO_DIMENSIONS == {
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
    assert video_size("720p", "9:16") == (720, 1280)


def test_unknown_image_aspect_ratio_raises_value_error() -> None:
    with pytest.raises(ValueError, match="unknown image aspect ratio '21:9'"):
        image_size("21:9")


@pytest.mark.parametrize(
    ("resolution", "aspect_ratio"), [("1080p", "16:9"), ("480p", "21:9"), ("480", "1:1")]
)
def test_unknown_video_size_raises_value_error(resolution: str, aspect_ratio: str) -> None:
    with pytest.raises(ValueError, match="unknown video size"):
        video_size(resolution, aspect_ratio)


# --- images ---------------------------------------------------------------------------------------


def test_render_image_returns_an_rgb_png_of_the_exact_size() -> None:
    image = decode(render_image("a red fox in the snow", 1280, 720))

    assert (image.format, image.mode, image.size) == ("PNG", "RGB", (1280, 720))


def test_render_image_draws_the_sandbox_banner_across_the_top() -> None:
    image = decode(render_image("a red fox", 1024, 1024))
    top_left, top_right = pixel(image, (2, 2)), pixel(image, (1021, 2))
    # The banner's title row holds dark ink: the SANDBOX mark.
    title_row = image.crop((0, 20, 1024, 90)).convert("L")
    dark_pixels = sum(title_row.histogram()[:60])

    assert (SANDBOX_MARK, top_left, top_right) == ("SANDBOX", BANNER_YELLOW, BANNER_YELLOW)
    assert dark_pixels > 2000


def test_render_image_is_the_same_for_the_same_prompt_and_seed() -> None:
    assert render_image("a lighthouse", 640, 480, seed=3) == render_image("a lighthouse", 640, 480, seed=3)


def test_render_image_background_changes_with_the_seed() -> None:
    first = decode(render_image("a lighthouse", 640, 480, seed=1))
    second = decode(render_image("a lighthouse", 640, 480, seed=2))

    assert pixel(first, (320, 240)) != pixel(second, (320, 240))


def test_render_image_writes_the_prompt_in_a_panel_in_the_lower_part(make_reference: MakeReference) -> None:
    # A shared reference fixes the background, so only the prompt text can differ.
    reference = make_reference()
    first = decode(render_image("a lighthouse at night", 640, 480, reference=reference))
    second = decode(render_image("a castle at dawn", 640, 480, reference=reference))

    box = changed_box(first, second)
    assert box is not None
    assert box[1] > 480 // 2


@pytest.mark.parametrize(
    "prompt",
    [
        "",
        "แมวน้อยน่ารักนั่งอยู่บนหลังคาบ้านในยามเย็น พระอาทิตย์กำลังตก" * 10,
        "一只可爱的小猫坐在屋顶上，夕阳西下，电影般的灯光" * 40,
        "مرحبا بالعالم، قطة صغيرة على السطح",
        "emoji 🦊🏳️‍🌈👩‍👩‍👧 and a flag",
        "controls \x00\x1b\x7f, a lone surrogate \ud800, tabs\tand\nnewlines",
        "x" * 20_000,
        "word " * 5_000,
    ],
    ids=["empty", "thai", "chinese", "arabic", "emoji", "controls", "one-long-word", "many-words"],
)
def test_render_image_draws_any_prompt_without_failing(prompt: str) -> None:
    image = decode(render_image(prompt, 480, 848))

    assert (image.format, image.size) == ("PNG", (480, 848))


def test_render_image_cuts_a_long_prompt_to_the_panel(make_reference: MakeReference) -> None:
    reference = make_reference()
    long_prompt = "a very long prompt " * 200
    short = decode(render_image("short", 640, 480, reference=reference))
    long = decode(render_image(long_prompt, 640, 480, reference=reference))
    longer = decode(
        render_image(long_prompt + "with more words after the cut", 640, 480, reference=reference)
    )

    box = changed_box(short, long)
    assert box is not None
    assert box[1] > 480 // 2
    assert changed_box(long, longer) is None


def test_render_image_cover_crops_the_reference_to_fill_the_frame() -> None:
    # Left half red, right half blue, square: a 4:3 cover crop trims top and bottom, keeps both halves.
    reference = Image.new("RGB", (300, 300), (220, 20, 20))
    reference.paste((20, 20, 220), (150, 0, 300, 300))
    buffer = io.BytesIO()
    reference.save(buffer, "PNG")

    image = decode(render_image("split", 640, 480, reference=buffer.getvalue()))

    assert (pixel(image, (100, 240)), pixel(image, (540, 240))) == ((220, 20, 20), (20, 20, 220))


def test_render_image_reads_jpeg_references(make_reference: MakeReference) -> None:
    image = decode(render_image("teal", 640, 480, reference=make_reference(fmt="JPEG")))

    centre = pixel(image, (320, 240))
    assert close_to(centre, TEAL, 4), centre


def test_render_image_shows_the_gradient_through_transparent_reference_pixels(
    make_reference: MakeReference,
) -> None:
    transparent = make_reference(colour=(0, 0, 255, 0))

    assert render_image("glass", 640, 480, reference=transparent) == render_image("glass", 640, 480)


@pytest.mark.parametrize(
    "reference",
    [b"", b"not an image at all", b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00"],
    ids=["empty", "text", "truncated-png"],
)
def test_render_image_rejects_an_unreadable_reference(reference: bytes) -> None:
    with pytest.raises(ValueError, match="reference is not"):
        render_image("p", 640, 480, reference=reference)


@pytest.mark.parametrize(("width", "height"), [(63, 480), (640, 0), (4097, 480)])
def test_render_image_rejects_sides_outside_64_to_4096(width: int, height: int) -> None:
    with pytest.raises(ValueError, match=r"sides must be within 64\.\.4096 px"):
        render_image("p", width, height)


# --- videos ---------------------------------------------------------------------------------------


def test_render_video_writes_a_browser_playable_h264_mp4(tmp_path: Path) -> None:
    out = tmp_path / "fox.mp4"

    render_video("a red fox runs through a snowy forest", 848, 480, 6.0, out)

    with av.open(str(out)) as container:
        stream = container.streams.video[0]
        facts = (
            container.format.name.split(",")[0],
            stream.codec_context.name,
            stream.codec_context.pix_fmt,
            stream.width,
            stream.height,
            stream.average_rate,
            stream.frames,
        )
        duration_s = (container.duration or 0) / 1_000_000
    data = out.read_bytes()

    assert facts == ("mov", "h264", "yuv420p", 848, 480, Fraction(12), 72)
    assert duration_s == pytest.approx(6.0, abs=1 / 12)
    # faststart: the index precedes the media data, so playback starts before the download ends.
    assert data.index(b"moov") < data.index(b"mdat")
    assert sorted(path.name for path in tmp_path.iterdir()) == ["fox.mp4"]


@pytest.mark.parametrize(
    ("duration_s", "fps", "frame_count"),
    [(1.0, 12, 12), (0.5, 24, 12), (1.04, 12, 12), (0.96, 12, 12), (1.05, 12, 13), (0.01, 12, 1)],
)
def test_render_video_has_round_duration_times_fps_frames(
    tmp_path: Path, duration_s: float, fps: int, frame_count: int
) -> None:
    out = tmp_path / "clip.mp4"

    render_video("counting", 480, 480, duration_s, out, fps=fps)

    with av.open(str(out)) as container:
        decoded = sum(1 for _ in container.decode(video=0))
        read_back_s = (container.duration or 0) / 1_000_000
    assert decoded == frame_count
    assert math.isclose(read_back_s, duration_s, abs_tol=1 / fps)


def test_render_video_animates_only_the_status_band_without_a_reference(tmp_path: Path) -> None:
    out = tmp_path / "clip.mp4"

    render_video("a still life", 640, 480, 1.0, out)

    frames = video_frames(out)
    box = changed_box(frames[0], frames[-1])
    assert box is not None
    assert box[1] > 480 * 3 // 4


def test_render_video_starts_on_the_reference_and_zooms_into_it(tmp_path: Path) -> None:
    # Vertical stripes move sideways as the picture zooms, so the middle changes between frames.
    stripes = Image.new("RGB", (640, 480), TEAL)
    for x in range(0, 640, 16):
        stripes.paste((240, 240, 240), (x, 0, x + 8, 480))
    buffer = io.BytesIO()
    stripes.save(buffer, "PNG")
    out = tmp_path / "zoom.mp4"

    render_video("zoom", 640, 480, 1.0, out, reference=buffer.getvalue())

    frames = video_frames(out)
    first_row = [pixel(frames[0], (x, 240)) for x in range(180, 460)]
    expected_row = [pixel(stripes, (x, 240)) for x in range(180, 460)]
    assert sum(close_to(a, e, 40) for a, e in zip(first_row, expected_row, strict=True)) > 0.9 * 280
    middle = (160, 200, 480, 280)
    assert changed_box(frames[0].crop(middle), frames[-1].crop(middle)) is not None


def test_render_video_keeps_the_reference_as_background(
    tmp_path: Path, make_reference: MakeReference
) -> None:
    out = tmp_path / "teal.mp4"

    render_video("teal", 480, 640, 0.5, out, reference=make_reference())

    frames = video_frames(out)
    centres = [pixel(frame, (240, 320)) for frame in (frames[0], frames[-1])]
    assert all(close_to(centre, TEAL, 6) for centre in centres), centres


def test_render_video_is_the_same_for_the_same_inputs(tmp_path: Path) -> None:
    render_video("repeatable", 480, 480, 0.5, tmp_path / "a.mp4", seed=5)
    render_video("repeatable", 480, 480, 0.5, tmp_path / "b.mp4", seed=5)

    assert (tmp_path / "a.mp4").read_bytes() == (tmp_path / "b.mp4").read_bytes()


@pytest.mark.parametrize(
    ("width", "height", "duration_s", "fps", "match"),
    [
        (481, 480, 1.0, 12, "video sides must be even"),
        (480, 480, 0.0, 12, "duration_s must be a positive number"),
        (480, 480, float("nan"), 12, "duration_s must be a positive number"),
        (480, 480, 1.0, 0, r"fps must be within 1\.\.60"),
    ],
)
def test_render_video_rejects_bad_arguments_and_writes_nothing(
    tmp_path: Path, width: int, height: int, duration_s: float, fps: int, match: str
) -> None:
    with pytest.raises(ValueError, match=match):
        render_video("p", width, height, duration_s, tmp_path / "out.mp4", fps=fps)

    assert list(tmp_path.iterdir()) == []


def test_render_video_rejects_an_unreadable_reference_and_writes_nothing(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="reference is not"):
        render_video("p", 480, 480, 1.0, tmp_path / "out.mp4", reference=b"GIF89a broken")

    assert list(tmp_path.iterdir()) == []


# --- posters --------------------------------------------------------------------------------------


def test_render_poster_is_a_jpeg_of_the_first_frame(tmp_path: Path, make_reference: MakeReference) -> None:
    out = tmp_path / "clip.mp4"
    render_video("poster", 720, 480, 0.5, out, reference=make_reference())

    poster = decode(render_poster(out))

    assert (poster.format, poster.size) == ("JPEG", (720, 480))
    assert close_to(pixel(poster, (360, 240)), TEAL, 8)
    assert pixel(poster, (4, 4)) == pytest.approx(BANNER_YELLOW, abs=12)


def test_render_poster_rejects_a_file_that_is_not_a_video(tmp_path: Path) -> None:
    not_video = tmp_path / "notes.mp4"
    not_video.write_text("just text")

    with pytest.raises(ValueError, match="is not a readable video"):
        render_poster(not_video)


def test_render_poster_raises_file_not_found_for_a_missing_file(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        render_poster(tmp_path / "missing.mp4")
