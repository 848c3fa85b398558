"""Local stand-in renders for the sandbox engine: labelled PNG images and H.264 MP4 videos.

Nothing here comes from a model. Every output shows its prompt and a visible ``SANDBOX`` banner, so a
sandbox result is never mistaken for a Grok Imagine one. Output is a pure function of the inputs: the
background is a gradient whose colours come from a hash of prompt and seed, or the reference image.

    png = render_image("a red fox", 1024, 1024, seed=7)
    render_video("a red fox", 848, 480, 6.0, Path("fox.mp4"))
    jpeg = render_poster(Path("fox.mp4"))
"""

from __future__ import annotations

import io
import math
import secrets
from collections.abc import Iterator
from fractions import Fraction
from pathlib import Path

import av
from PIL import Image

from imagine_gateway.providers.sandbox.backgrounds import base_picture
from imagine_gateway.providers.sandbox.overlay import Layout, draw_status, overlay

# Reference videos zoom in slowly from 100 % to this scale so the frames visibly move.
_ZOOM_END = 1.08
_FPS_MAX = 60
# Below this the marks cannot be drawn legibly; above it a frame stops being a cheap placeholder.
_SIDE_MIN = 64
_SIDE_MAX = 4096
_JPEG_QUALITY = 85
_X264_OPTIONS = {"preset": "ultrafast", "crf": "23"}


def render_image(
    prompt: str, width: int, height: int, *, reference: bytes | None = None, seed: int = 0
) -> bytes:
    """Return PNG bytes of a ``width`` x ``height`` sandbox image showing ``prompt``.

    ``reference`` (any image Pillow reads) replaces the gradient background, cover-cropped to fit.
    Raises ``ValueError`` for a side outside 64..4096 px or unreadable reference bytes.
    """
    _check_size(width, height, even=False)
    layout = Layout.compute(width, height, status_line=False)
    canvas = base_picture(prompt, seed, width, height, reference)
    for patch in overlay(prompt, layout):
        patch.paste_onto(canvas)
    buffer = io.BytesIO()
    canvas.save(buffer, "PNG")
    return buffer.getvalue()


def render_video(
    prompt: str,
    width: int,
    height: int,
    duration_s: float,
    out: Path,
    *,
    fps: int = 12,
    reference: bytes | None = None,
    seed: int = 0,
) -> None:
    """Write a ``duration_s`` second H.264 (yuv420p) MP4 of ``round(duration_s * fps)`` frames to ``out``.

    Frames show the prompt, the sandbox banner, a progress bar and the elapsed time. With ``reference``
    the first frame is that image (cover-cropped) and later frames zoom into it slowly. The file is
    written beside ``out`` and moved into place, so ``out`` never holds a partial video. Raises
    ``ValueError`` for odd sides or sides outside 64..4096 px, a non-positive duration, an fps
    outside 1..60 or unreadable reference bytes.
    """
    _check_size(width, height, even=True)
    if not (math.isfinite(duration_s) and duration_s > 0):
        raise ValueError(f"duration_s must be a positive number of seconds, got {duration_s!r}")
    if not 1 <= fps <= _FPS_MAX:
        raise ValueError(f"fps must be within 1..{_FPS_MAX}, got {fps!r}")
    frame_count = max(1, round(duration_s * fps))
    layout = Layout.compute(width, height, status_line=True)
    base = base_picture(prompt, seed, width, height, reference)
    frames = _frames(prompt, base, layout, frame_count, fps, zoom=reference is not None)

    # Not mkstemp: its 0600 mode would stick to the published file; av.open honours the umask.
    part = out.with_name(f".{out.name}.{secrets.token_hex(8)}.part")
    try:
        _encode(frames, part, width, height, fps)
        part.replace(out)
    finally:
        part.unlink(missing_ok=True)


def render_poster(video: Path) -> bytes:
    """Return JPEG bytes of the first frame of the video at ``video``.

    Raises ``FileNotFoundError`` when there is no such file and ``ValueError`` when it holds no
    decodable video frame.
    """
    try:
        with av.open(str(video)) as container:
            if not container.streams.video:
                raise ValueError(f"{video} has no video stream")
            first = next(container.decode(video=0), None)
            if first is None:
                raise ValueError(f"{video} has no decodable frame")
            image: Image.Image = first.to_image()  # type: ignore[no-untyped-call]
    except FileNotFoundError:
        raise
    except av.error.FFmpegError as exc:
        raise ValueError(f"{video} is not a readable video: {exc}") from exc
    buffer = io.BytesIO()
    image.convert("RGB").save(buffer, "JPEG", quality=_JPEG_QUALITY)
    return buffer.getvalue()


def _check_size(width: int, height: int, *, even: bool) -> None:
    if not (_SIDE_MIN <= width <= _SIDE_MAX and _SIDE_MIN <= height <= _SIDE_MAX):
        raise ValueError(f"sides must be within {_SIDE_MIN}..{_SIDE_MAX} px, got {width}x{height}")
    # yuv420p stores chroma at half resolution, so libx264 rejects odd sides.
    if even and (width % 2 or height % 2):
        raise ValueError(f"video sides must be even, got {width}x{height}")


def _frames(
    prompt: str, base: Image.Image, layout: Layout, frame_count: int, fps: int, *, zoom: bool
) -> Iterator[Image.Image]:
    """Yield each frame; the same image object may be reused, so consume each before the next."""
    patches = overlay(prompt, layout)
    steps = _zoom_steps(max(layout.width, layout.height)) if zoom else 0
    status_box = (0, layout.status_top, layout.width, layout.height)
    shown_step = -1
    frame = base
    status_background = base
    for index in range(frame_count):
        step = round(steps * index / max(1, frame_count - 1))
        if step != shown_step:
            frame = _zoomed(base, 1.0 + (_ZOOM_END - 1.0) * step / max(1, steps))
            for patch in patches:
                patch.paste_onto(frame)
            status_background = frame.crop(status_box)
            shown_step = step
        else:
            # Only the status band moves; restoring it is far cheaper than redrawing the frame.
            frame.paste(status_background, status_box[:2])
        draw_status(frame, layout, index, frame_count, fps)
        yield frame


def _zoom_steps(side: int) -> int:
    """How many distinct zoom levels keep each step under half a pixel at the frame's far edge.

    Resampling a whole frame costs more than encoding it, so long videos reuse a level for several
    frames instead of resampling every frame for sub-pixel changes nobody can see.
    """
    edge_travel_px = side / 2 * (1 - 1 / _ZOOM_END)
    return math.ceil(edge_travel_px * 2)


def _zoomed(base: Image.Image, scale: float) -> Image.Image:
    if scale == 1.0:
        return base.copy()
    width, height = base.size
    crop_w, crop_h = width / scale, height / scale
    left, top = (width - crop_w) / 2, (height - crop_h) / 2
    box = (left, top, left + crop_w, top + crop_h)
    return base.resize((width, height), Image.Resampling.BILINEAR, box=box)


def _encode(frames: Iterator[Image.Image], path: Path, width: int, height: int, fps: int) -> None:
    # faststart moves the index to the front so browsers can start playing before the download ends.
    with av.open(str(path), "w", format="mp4", container_options={"movflags": "+faststart"}) as container:
        stream = container.add_stream("libx264", rate=fps, options=dict(_X264_OPTIONS, g=str(2 * fps)))
        stream.width = width
        stream.height = height
        stream.pix_fmt = "yuv420p"
        time_base = Fraction(1, fps)
        stream.codec_context.time_base = time_base
        for index, image in enumerate(frames):
            frame = av.VideoFrame.from_image(image)  # type: ignore[no-untyped-call]
            frame.pts = index
            frame.time_base = time_base
            container.mux(stream.encode(frame))
        container.mux(stream.encode(None))
