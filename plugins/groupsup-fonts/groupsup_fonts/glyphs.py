"""Glyph rasterisation shared by font validation and the renderer (Pillow + FreeType).

Every font is opened with Pillow's BASIC layout engine: one letter needs no shaping, and the
BASIC engine gives the same pixels on machines with and without libraqm.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFont

_PAD = 2  # pixels around FreeType's bounding box, so no antialiased edge is cut


def open_font(path: Path, index: int, size: int) -> ImageFont.FreeTypeFont:
    """The face *index* of the font file at *path*, at *size* pixels per em."""
    return ImageFont.truetype(str(path), size=size, index=index,
                              layout_engine=ImageFont.Layout.BASIC)


def ink_mask(font: ImageFont.FreeTypeFont, char: str) -> np.ndarray:
    """The antialiased coverage of *char*, cropped to its ink box: uint8 ``(h, w)``.

    An empty glyph gives a ``(0, 0)`` array.
    """
    left, top, right, bottom = font.getbbox(char, anchor="ls")
    width, height = right - left + 2 * _PAD, bottom - top + 2 * _PAD
    if width <= 2 * _PAD or height <= 2 * _PAD:
        return np.zeros((0, 0), dtype=np.uint8)
    image = Image.new("L", (width, height), 0)
    ImageDraw.Draw(image).text((_PAD - left, _PAD - top), char, fill=255, font=font, anchor="ls")
    box = image.getbbox()
    if box is None:
        return np.zeros((0, 0), dtype=np.uint8)
    return np.asarray(image.crop(box), dtype=np.uint8)


def line_mask(font: ImageFont.FreeTypeFont, char: str, canvas: int) -> np.ndarray:
    """*char* placed as the reference code places it: its line box centred on the canvas.

    The line box is the advance width by ascent + descent; the glyph may overflow the canvas and
    is clipped there. Returns uint8 ``(canvas, canvas)``.
    """
    ascent, descent = font.getmetrics()
    advance = font.getlength(char)
    x = (canvas - round(advance)) // 2
    y = (canvas - (ascent + descent)) // 2
    image = Image.new("L", (canvas, canvas), 0)
    ImageDraw.Draw(image).text((x, y), char, fill=255, font=font, anchor="la")
    return np.asarray(image, dtype=np.uint8)


def place_centred(mask: np.ndarray, canvas: int) -> np.ndarray:
    """Paste an ink-cropped mask so its box centre is the canvas centre (clipped if larger)."""
    out = np.zeros((canvas, canvas), dtype=np.uint8)
    h, w = mask.shape
    if h == 0 or w == 0:
        return out
    top, left = (canvas - h) // 2, (canvas - w) // 2
    src_top, src_left = max(0, -top), max(0, -left)
    dst_top, dst_left = max(0, top), max(0, left)
    rows = min(h - src_top, canvas - dst_top)
    cols = min(w - src_left, canvas - dst_left)
    out[dst_top:dst_top + rows, dst_left:dst_left + cols] = \
        mask[src_top:src_top + rows, src_left:src_left + cols]
    return out
