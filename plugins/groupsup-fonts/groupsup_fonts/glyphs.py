"""Glyph rasterisation shared by font validation and the renderer (Pillow + FreeType).

Every font is opened with Pillow's BASIC layout engine: one letter needs no shaping, and the
BASIC engine gives the same pixels on machines with and without libraqm. The renderer draws
glyphs at *factor* times the canvas resolution and box-filters them down: FreeType's hinting
at small pixel sizes otherwise snaps stems and heights differently at each size (a glyph can
even come out shorter at a larger size), which would blur the size attribute.
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


def downsample(mask: np.ndarray, factor: int) -> np.ndarray:
    """Box-filter a uint8 coverage mask by an integer *factor* (rounded to nearest).

    A mask whose sides are not multiples of *factor* is padded with zeros, evenly on both
    sides, first.
    """
    if factor == 1 or mask.size == 0:
        return mask
    h, w = mask.shape
    padded_h, padded_w = -(-h // factor) * factor, -(-w // factor) * factor
    padded = np.zeros((padded_h, padded_w), dtype=np.uint32)
    top, left = (padded_h - h) // 2, (padded_w - w) // 2
    padded[top:top + h, left:left + w] = mask
    sums = padded.reshape(padded_h // factor, factor, padded_w // factor, factor).sum(axis=(1, 3))
    area = factor * factor
    return ((sums + area // 2) // area).astype(np.uint8)


def crop_to_ink(mask: np.ndarray) -> np.ndarray:
    """*mask* cropped to its non-zero pixels (``(0, 0)`` when there are none)."""
    rows, cols = np.flatnonzero(mask.any(axis=1)), np.flatnonzero(mask.any(axis=0))
    if rows.size == 0:
        return np.zeros((0, 0), dtype=np.uint8)
    return mask[rows[0]:rows[-1] + 1, cols[0]:cols[-1] + 1]


def ink_mask(font: ImageFont.FreeTypeFont, char: str, factor: int = 1) -> np.ndarray:
    """The antialiased coverage of *char*, cropped to its ink box: uint8 ``(h, w)``.

    *font* is drawn at *factor* times the wanted size and the result box-filtered down by
    *factor*. An empty glyph gives a ``(0, 0)`` array.
    """
    left, top, right, bottom = font.getbbox(char, anchor="ls")
    width, height = right - left + 2 * _PAD, bottom - top + 2 * _PAD
    if width <= 2 * _PAD or height <= 2 * _PAD:
        return np.zeros((0, 0), dtype=np.uint8)
    image = Image.new("L", (width, height), 0)
    ImageDraw.Draw(image).text((_PAD - left, _PAD - top), char, fill=255, font=font, anchor="ls")
    return crop_to_ink(downsample(crop_to_ink(np.asarray(image, dtype=np.uint8)), factor))


def line_mask(font: ImageFont.FreeTypeFont, char: str, canvas: int,
              factor: int = 1) -> np.ndarray:
    """*char* placed as the reference code places it: its line box centred on the canvas.

    The line box is the advance width by ascent + descent; the glyph may overflow the canvas and
    is clipped there. *font* is drawn at *factor* times the wanted size on a canvas *factor*
    times larger, then box-filtered down. Returns uint8 ``(canvas, canvas)``.
    """
    big = canvas * factor
    ascent, descent = font.getmetrics()
    advance = font.getlength(char)
    x = (big - round(advance)) // 2
    y = (big - (ascent + descent)) // 2
    image = Image.new("L", (big, big), 0)
    ImageDraw.Draw(image).text((x, y), char, fill=255, font=font, anchor="la")
    return downsample(np.asarray(image, dtype=np.uint8), factor)


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
