"""What lies under the marks: the reference image, cover-cropped, or a gradient drawn from the prompt.

The gradient's colours and its few soft discs come from a hash of prompt and seed, so one prompt always
gives the same picture and different prompts are easy to tell apart at a glance.
"""

from __future__ import annotations

import colorsys
import hashlib
import io

from PIL import Image, ImageChops, ImageDraw, ImageOps, UnidentifiedImageError

_Rgb = tuple[int, int, int]


def base_picture(prompt: str, seed: int, width: int, height: int, reference: bytes | None) -> Image.Image:
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
