"""The marks on every sandbox picture: the ``SANDBOX`` banner, the prompt panel and the video status line.

Sizes scale with the shorter side of the frame. The banner and the prompt panel are rendered once per
output as ``Patch`` pieces and pasted onto each frame; only the status line changes from frame to frame.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass

from PIL import Image, ImageDraw, ImageFont

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
class Layout:
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
    def compute(cls, width: int, height: int, *, status_line: bool) -> Layout:
        """The layout of a ``width`` x ``height`` frame, with room for a status line if asked."""
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
class Patch:
    """A pre-rendered piece of the overlay and where it goes; ``opaque`` skips alpha blending."""

    image: Image.Image
    origin: tuple[int, int]
    opaque: bool

    def paste_onto(self, canvas: Image.Image) -> None:
        """Paste this piece onto ``canvas`` at its origin."""
        if self.opaque:
            canvas.paste(self.image, self.origin)
        else:
            canvas.paste(self.image, self.origin, self.image)


def overlay(prompt: str, layout: Layout) -> list[Patch]:
    """Render the parts that never change: the banner, the prompt panel, the status band."""
    banner = _banner(layout)
    patches = [Patch(banner, (0, 0), opaque=True)]
    patches.append(_prompt_panel(prompt, layout, top_limit=banner.height))
    if layout.status_top < layout.height:
        band = Image.new("RGBA", (layout.width, layout.height - layout.status_top), (0, 0, 0, 110))
        patches.append(Patch(band, (0, layout.status_top), opaque=False))
    return patches


def _banner(layout: Layout) -> Image.Image:
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


def _prompt_panel(prompt: str, layout: Layout, *, top_limit: int) -> Patch:
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
    return Patch(panel, (margin, bottom - panel_height), opaque=False)


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


def draw_status(frame: Image.Image, layout: Layout, index: int, frame_count: int, fps: int) -> None:
    """Draw frame ``index``'s status line: elapsed time, frame number and a progress bar."""
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
