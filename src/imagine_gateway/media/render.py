"""Local stand-in renders for the sandbox engine: labelled PNG images and H.264 MP4 videos.

Nothing here comes from a model. Every output shows its prompt and a visible ``SANDBOX`` banner, so a
sandbox result is never mistaken for a Grok Imagine one. Output is a pure function of the inputs: the
background is a gradient whose colours come from a hash of prompt and seed, or the reference image.

    png = render_image("a red fox", 1024, 1024, seed=7)
    render_video("a red fox", 848, 480, 6.0, Path("fox.mp4"))
    jpeg = render_poster(Path("fox.mp4"))
"""

from __future__ import annotations

import colorsys
import hashlib
import io
import math
import re
import secrets
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import av
from PIL import Image, ImageChops, ImageDraw, ImageFont, ImageOps, UnidentifiedImageError

SANDBOX_MARK: str = "SANDBOX"
_SANDBOX_NOTE = "rendered locally by Imagine Gateway, not by Grok Imagine"
_EMPTY_PROMPT = "(no prompt)"

# Longer prompts cannot fit the panel anyway; cutting early bounds the cost of laying them out.
_PROMPT_CHARS_MAX = 1200
_PROMPT_LINES_MAX = 8
_ELLIPSIS = "…"
# Unicode categories Cc (controls) and Cs (lone surrogates, which cannot even be encoded).
_UNDRAWABLE = re.compile("[\x00-\x1f\x7f-\x9f\ud800-\udfff]")

_BANNER_FILL = (255, 210, 31)
_INK = (17, 17, 17)
_WHITE = (255, 255, 255)
_PANEL_FILL = (0, 0, 0, 160)
_BAR_TRACK = (255, 255, 255, 90)

# Reference videos zoom in slowly from 100 % to this scale so the frames visibly move.
_ZOOM_END = 1.08
_FPS_MAX = 60
# Below this the marks cannot be drawn legibly; above it a frame stops being a cheap placeholder.
_SIDE_MIN = 64
_SIDE_MAX = 4096
_JPEG_QUALITY = 85
_X264_OPTIONS = {"preset": "ultrafast", "crf": "23"}

_Rgb = tuple[int, int, int]


def render_image(
    prompt: str, width: int, height: int, *, reference: bytes | None = None, seed: int = 0
) -> bytes:
    """Return PNG bytes of a ``width`` x ``height`` sandbox image showing ``prompt``.

    ``reference`` (any image Pillow reads) replaces the gradient background, cover-cropped to fit.
    Raises ``ValueError`` for a side outside 64..4096 px or unreadable reference bytes.
    """
    _check_size(width, height, even=False)
    layout = _Layout.compute(width, height, status_line=False)
    canvas = _base(prompt, seed, width, height, reference)
    for patch in _overlay(prompt, layout):
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
    layout = _Layout.compute(width, height, status_line=True)
    base = _base(prompt, seed, width, height, reference)
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


# --- layout ---------------------------------------------------------------------------------------


def _font(size: int) -> ImageFont.FreeTypeFont:
    # Loaded per render (about 0.05 ms) rather than cached: renders may run in worker threads, and
    # a FreeType face is not safe to share between them.
    font = ImageFont.load_default(size=size)
    # Only the FreeType font scales and draws any Unicode (missing glyphs become boxes); the bitmap
    # fallback of a Pillow built without FreeType would raise on non-Latin-1 prompts.
    if not isinstance(font, ImageFont.FreeTypeFont):
        raise RuntimeError("Pillow was built without FreeType; sandbox rendering needs it")
    return font


def _line_height(font: ImageFont.FreeTypeFont) -> int:
    ascent, descent = font.getmetrics()
    return ascent + descent


@dataclass(frozen=True)
class _Layout:
    """Where each element of a frame goes; sizes scale with the shorter side."""

    width: int
    height: int
    margin: int
    pad: int
    title_font: ImageFont.FreeTypeFont
    note_font: ImageFont.FreeTypeFont
    prompt_font: ImageFont.FreeTypeFont
    status_font: ImageFont.FreeTypeFont
    status_top: int  # == height when there is no status line
    bar_height: int

    @classmethod
    def compute(cls, width: int, height: int, *, status_line: bool) -> _Layout:
        unit = min(width, height)
        margin = max(4, round(unit * 0.04))
        status_font = _font(max(10, round(unit * 0.03)))
        bar_height = max(3, round(unit * 0.012))
        status_height = margin + _line_height(status_font) + margin // 2 + bar_height + margin
        return cls(
            width=width,
            height=height,
            margin=margin,
            pad=max(3, round(unit * 0.02)),
            title_font=_font(max(14, round(unit * 0.065))),
            note_font=_font(max(10, round(unit * 0.03))),
            prompt_font=_font(max(11, round(unit * 0.042))),
            status_font=status_font,
            status_top=height - status_height if status_line else height,
            bar_height=bar_height,
        )


@dataclass(frozen=True)
class _Patch:
    """A pre-rendered piece of the overlay and where it goes; ``opaque`` skips alpha blending."""

    image: Image.Image
    origin: tuple[int, int]
    opaque: bool

    def paste_onto(self, canvas: Image.Image) -> None:
        if self.opaque:
            canvas.paste(self.image, self.origin)
        else:
            canvas.paste(self.image, self.origin, self.image)


def _overlay(prompt: str, layout: _Layout) -> list[_Patch]:
    """Render the parts that never change: the banner, the prompt panel, the status band."""
    banner = _banner(layout)
    patches = [_Patch(banner, (0, 0), opaque=True)]
    patches.append(_prompt_panel(prompt, layout, top_limit=banner.height))
    if layout.status_top < layout.height:
        band = Image.new("RGBA", (layout.width, layout.height - layout.status_top), (0, 0, 0, 110))
        patches.append(_Patch(band, (0, layout.status_top), opaque=False))
    return patches


def _banner(layout: _Layout) -> Image.Image:
    margin, pad = layout.margin, layout.pad
    text_width = layout.width - 2 * margin
    note_lines = _wrap(_SANDBOX_NOTE, layout.note_font, text_width, max_lines=3)
    title_height = _line_height(layout.title_font)
    note_step = _line_height(layout.note_font)
    stripe_height = max(4, pad // 2 * 2)
    height = pad + title_height + note_step * len(note_lines) + pad + stripe_height

    banner = Image.new("RGB", (layout.width, height), _BANNER_FILL)
    draw = ImageDraw.Draw(banner)
    # A thin stroke in the ink colour makes the only available (regular) face read as bold.
    draw.text(
        (margin, pad), SANDBOX_MARK, font=layout.title_font, fill=_INK, stroke_width=1, stroke_fill=_INK
    )
    y = pad + title_height
    for line in note_lines:
        draw.text((margin, y), line, font=layout.note_font, fill=_INK)
        y += note_step
    # Hazard stripes along the lower edge.
    stripe_top = height - stripe_height
    step = stripe_height * 2
    for x in range(-stripe_height, layout.width + stripe_height, step):
        draw.polygon(
            [
                (x, height),
                (x + stripe_height, stripe_top),
                (x + 2 * stripe_height, stripe_top),
                (x + stripe_height, height),
            ],
            fill=_INK,
        )
    return banner


def _prompt_panel(prompt: str, layout: _Layout, *, top_limit: int) -> _Patch:
    margin, pad = layout.margin, layout.pad
    font = layout.prompt_font
    step = round(_line_height(font) * 1.15)
    bottom = layout.status_top - margin
    # The panel keeps to the lower part of the frame so the middle of the picture stays visible.
    room = min(bottom - top_limit - margin, round(layout.height * 0.3)) - 2 * pad
    max_lines = max(1, min(_PROMPT_LINES_MAX, room // step))
    text = _clean(prompt) or _EMPTY_PROMPT
    lines = _wrap(text, font, layout.width - 2 * (margin + pad), max_lines=max_lines)

    panel_width = layout.width - 2 * margin
    panel_height = 2 * pad + step * len(lines)
    panel = Image.new("RGBA", (panel_width, panel_height), (0, 0, 0, 0))
    draw = ImageDraw.Draw(panel)
    draw.rounded_rectangle((0, 0, panel_width - 1, panel_height - 1), radius=pad, fill=_PANEL_FILL)
    for index, line in enumerate(lines):
        draw.text((pad, pad + index * step), line, font=font, fill=_WHITE)
    return _Patch(panel, (margin, bottom - panel_height), opaque=False)


def _clean(prompt: str) -> str:
    """Collapse whitespace and drop control characters and lone surrogates, which fonts cannot draw."""
    return " ".join(_UNDRAWABLE.sub(" ", prompt).split())


def _wrap(text: str, font: ImageFont.FreeTypeFont, max_width: int, *, max_lines: int) -> list[str]:
    """Break ``text`` into lines that fit ``max_width``; mark a cut with an ellipsis.

    Words wider than a line (and scripts written without spaces) break between grapheme clusters.
    """
    lines: list[str] = []
    current = ""
    truncated = len(text) > _PROMPT_CHARS_MAX
    for word in text[:_PROMPT_CHARS_MAX].split(" "):
        candidate = f"{current} {word}" if current else word
        if font.getlength(candidate) <= max_width:
            current = candidate
            continue
        if current:
            lines.append(current)
            current = ""
        for cluster in _clusters(word):
            if current and font.getlength(current + cluster) > max_width:
                lines.append(current)
                current = ""
            current += cluster
            if len(lines) > max_lines:
                break
        if len(lines) > max_lines:
            break
    if current:
        lines.append(current)
    if len(lines) > max_lines:
        truncated = True
        lines = lines[:max_lines]
    if truncated:
        lines[-1] = _ellipsize(lines[-1], font, max_width)
    return lines


def _clusters(word: str) -> Iterator[str]:
    """Yield a base character with its combining marks, so a break never strands a Thai vowel sign."""
    cluster = ""
    for ch in word:
        if cluster and (unicodedata.category(ch) in ("Mn", "Mc", "Me") or ch in "\u200d\ufe0f"):
            cluster += ch
        else:
            if cluster:
                yield cluster
            cluster = ch
    if cluster:
        yield cluster


def _ellipsize(line: str, font: ImageFont.FreeTypeFont, max_width: int) -> str:
    clusters = list(_clusters(line))
    while clusters and font.getlength("".join(clusters).rstrip() + _ELLIPSIS) > max_width:
        clusters.pop()
    return "".join(clusters).rstrip() + _ELLIPSIS


# --- backgrounds ----------------------------------------------------------------------------------


def _base(prompt: str, seed: int, width: int, height: int, reference: bytes | None) -> Image.Image:
    """The RGB picture under the marks: the fitted reference, or the prompt's gradient."""
    background = _gradient(prompt, seed, width, height)
    if reference is None:
        return background
    fitted = _fit_reference(reference, width, height)
    if fitted.mode == "RGBA":
        # Transparent parts of the reference show the gradient rather than black.
        return Image.alpha_composite(background.convert("RGBA"), fitted).convert("RGB")
    return fitted


def _gradient(prompt: str, seed: int, width: int, height: int) -> Image.Image:
    digest = hashlib.sha256(f"{seed}\n{prompt}".encode("utf-8", "surrogatepass")).digest()
    hue = digest[0] / 255
    start = _hsv(hue, 0.55 + 0.3 * digest[1] / 255, 0.5 + 0.2 * digest[2] / 255)
    end = _hsv(
        (hue + 0.2 + 0.4 * digest[3] / 255) % 1.0, 0.6 + 0.3 * digest[4] / 255, 0.18 + 0.15 * digest[5] / 255
    )

    vertical = Image.linear_gradient("L").resize((width, height), Image.Resampling.BILINEAR)
    horizontal = Image.linear_gradient("L").transpose(Image.Transpose.ROTATE_90)
    horizontal = horizontal.resize((width, height), Image.Resampling.BILINEAR)
    mask = ImageChops.add(vertical, horizontal, scale=2.0)
    if digest[6] & 1:
        mask = mask.transpose(Image.Transpose.FLIP_LEFT_RIGHT)
    picture = Image.composite(
        Image.new("RGB", (width, height), end), Image.new("RGB", (width, height), start), mask
    )

    # A few soft discs make pictures of different prompts easy to tell apart at a glance.
    discs = Image.new("RGBA", (width, height), (0, 0, 0, 0))
    draw = ImageDraw.Draw(discs)
    unit = min(width, height)
    for index in range(5):
        x, y, r, a = digest[8 + 4 * index : 12 + 4 * index]
        cx, cy = x / 255 * width, y / 255 * height
        radius = unit * (0.08 + 0.25 * r / 255)
        draw.ellipse((cx - radius, cy - radius, cx + radius, cy + radius), fill=(255, 255, 255, 20 + a // 8))
    return Image.alpha_composite(picture.convert("RGBA"), discs).convert("RGB")


def _hsv(hue: float, saturation: float, value: float) -> _Rgb:
    red, green, blue = colorsys.hsv_to_rgb(hue, saturation, value)
    return round(red * 255), round(green * 255), round(blue * 255)


def _fit_reference(reference: bytes, width: int, height: int) -> Image.Image:
    """Decode ``reference`` and cover-crop it to the size; RGBA when it has transparency, else RGB."""
    try:
        with Image.open(io.BytesIO(reference)) as opened:
            # JPEG can decode at 1/2..1/8 scale; ask for enough pixels for either orientation.
            side = max(width, height)
            opened.draft("RGB", (side, side))
            image = ImageOps.exif_transpose(opened)
            has_alpha = image.mode in ("RGBA", "LA", "PA", "RGBa", "La") or "transparency" in image.info
            image = image.convert("RGBA" if has_alpha else "RGB")
            return ImageOps.fit(image, (width, height), Image.Resampling.LANCZOS)
    except UnidentifiedImageError as exc:
        raise ValueError("reference is not an image in a format Pillow reads") from exc
    except (OSError, SyntaxError, ValueError, EOFError, Image.DecompressionBombError) as exc:
        raise ValueError(f"reference is not a readable image: {exc}") from exc


# --- video ----------------------------------------------------------------------------------------


def _frames(
    prompt: str, base: Image.Image, layout: _Layout, frame_count: int, fps: int, *, zoom: bool
) -> Iterator[Image.Image]:
    """Yield each frame; the same image object may be reused, so consume each before the next."""
    patches = _overlay(prompt, layout)
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
        _draw_status(frame, layout, index, frame_count, fps)
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


def _draw_status(frame: Image.Image, layout: _Layout, index: int, frame_count: int, fps: int) -> None:
    margin = layout.margin
    draw = ImageDraw.Draw(frame, "RGBA")
    elapsed_s = index / fps
    total_s = frame_count / fps
    text = f"{SANDBOX_MARK}   {_clock(elapsed_s)} / {_clock(total_s)}   frame {index + 1}/{frame_count}"
    text_top = layout.status_top + margin
    draw.text((margin, text_top), text, font=layout.status_font, fill=_WHITE)

    bar_top = text_top + _line_height(layout.status_font) + margin // 2
    bar_bottom = bar_top + layout.bar_height - 1
    right = layout.width - margin - 1
    draw.rectangle((margin, bar_top, right, bar_bottom), fill=_BAR_TRACK)
    progress = (index + 1) / frame_count
    fill_right = margin + round((right - margin) * progress)
    draw.rectangle((margin, bar_top, fill_right, bar_bottom), fill=_BANNER_FILL)
    knob = layout.bar_height
    draw.ellipse(
        (fill_right - knob, bar_top - knob // 2 - 1, fill_right + knob, bar_bottom + knob // 2 + 1),
        fill=_WHITE,
    )


def _clock(seconds: float) -> str:
    minutes, rest = divmod(seconds, 60)
    return f"{int(minutes):02d}:{rest:05.2f}"


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
