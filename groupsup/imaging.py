"""Images in and out: decoding any file's pixels to 8-bit L/RGB (:func:`to_8bit`), and sheets
(grids of uint8 images with row labels) saved atomically as PNG."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

from groupsup.errors import DataError
from groupsup.fileio import atomic_save

# Pillow's 16-bit grayscale modes (PNG, TIFF); "I" is 32-bit signed, which Pillow also uses
# for 16-bit PNGs.
_SIXTEEN_BIT = ("I;16", "I;16L", "I;16B", "I;16N")
_CONVERTIBLE = ("1", "L", "RGB", "CMYK", "YCbCr")


def to_8bit(img: Image.Image, mode: str, origin: str | os.PathLike) -> Image.Image:
    """*img* as an 8-bit image of *mode* (``"L"`` or ``"RGB"``); value ranges scaled, never clipped.

    Pillow's own ``convert`` clips a 16-bit image at 255 (a full-range 16-bit PNG turns almost
    all white), so high-bit-depth images are scaled here: 16-bit (``I;16*``) and 32-bit integer
    (``I``) images by 255/65535 (values outside 0..65535 are refused), float (``F``) images by
    255 when every value lies in [0, 1] (others are refused: no scale would be a safe guess).
    Transparent pixels (``LA``, ``RGBA``, ``PA``, ``P`` with a transparency key) are composited
    over black, i.e. colour times alpha: the colour under a transparent pixel is undefined.
    ``1``, ``CMYK`` and ``YCbCr`` use Pillow's conversions; any other mode is refused. Errors
    are :class:`~groupsup.errors.DataError` naming *origin* (the file).
    """
    if img.mode == mode:
        return img
    if img.mode in (*_SIXTEEN_BIT, "I", "F"):
        img = Image.fromarray(_scaled_to_uint8(img, origin), "L")
    elif img.mode == "P":
        img = img.convert("RGBA" if "transparency" in img.info else "RGB")
    elif img.mode == "PA":
        img = img.convert("RGBA")
    if img.mode in ("LA", "RGBA"):
        colour = img.convert(img.mode[:-1])
        img = Image.composite(colour, Image.new(colour.mode, img.size, 0), img.getchannel("A"))
    elif img.mode not in _CONVERTIBLE:
        raise DataError(f"{origin}: image mode {img.mode} is not supported (supported: 8- and "
                        f"16-bit grayscale, RGB, RGBA, LA, P, CMYK, YCbCr, 1, 32-bit integer, "
                        f"float in [0, 1])")
    return img.convert(mode)


def _scaled_to_uint8(img: Image.Image, origin: str | os.PathLike) -> np.ndarray:
    """A one-channel 16-bit, 32-bit integer or float image as uint8 ``(H, W)``."""
    values = np.asarray(img)
    if img.mode == "F":
        finite = np.isfinite(values).all()
        low, high = (float(values.min()), float(values.max())) if values.size else (0.0, 0.0)
        if not finite or low < 0 or high > 1:
            where = "non-finite values" if not finite else f"values in [{low:g}, {high:g}]"
            raise DataError(f"{origin}: float image holds {where}; groupsup reads float images "
                            f"only with values in [0, 1] (rescale the file or save it as 8/16-bit)")
        scale = 255.0
    else:
        low, high = (int(values.min()), int(values.max())) if values.size else (0, 0)
        if low < 0 or high > 65535:
            raise DataError(f"{origin}: 32-bit integer image holds values in [{low}, {high}], "
                            f"outside the 16-bit range 0..65535 that groupsup scales to 8 bits")
        scale = 255.0 / 65535.0
    return np.rint(values.astype(np.float64) * scale).astype(np.uint8)


def save_png(image: Image.Image, path: str | os.PathLike) -> Path:
    """Save through a temporary file and a rename, so a reader never sees half a PNG."""
    return atomic_save(path, lambda tmp: image.save(tmp, format="PNG"))


def image_grid(rows: Sequence[np.ndarray], row_labels: Sequence[str] | None = None,
               column_labels: Sequence[str] | None = None, min_size: int = 64,
               pad: int = 2, captions: Sequence[Sequence[str]] | None = None) -> Image.Image:
    """Lay out rows of uint8 images ``(n, H, W, C)`` (C = 1 or 3) on a white sheet.

    Small images are enlarged (nearest neighbour, an integer factor) to at least *min_size*.
    ``captions[r][c]``, when given, is a line of text under tile ``c`` of row ``r`` (cut to
    the tile's width; rows may give fewer captions than tiles).
    """
    h, w = rows[0].shape[1:3]
    scale = max(1, -(-min_size // max(h, w)))
    ch, cw = h * scale, w * scale
    label_w = 8 + 7 * max((len(s) for s in row_labels), default=0) if row_labels else 0
    header = 14 if column_labels else 0
    caption_h = 18 if captions else 0  # a 12 px line and a gap, so it reads as its row's
    fit = max(2, cw // 6)  # characters of the default bitmap font that fit under a tile
    ncols = max(len(r) for r in rows)
    sheet = Image.new("RGB", (label_w + ncols * (cw + pad) + pad,
                              header + len(rows) * (ch + caption_h + pad) + pad), "white")
    draw = ImageDraw.Draw(sheet)
    for c, text in enumerate(column_labels or []):
        draw.text((label_w + pad + c * (cw + pad), 1), text, fill="black")
    for r, row in enumerate(rows):
        y = header + pad + r * (ch + caption_h + pad)
        if row_labels:
            draw.text((4, y + ch // 2 - 5), row_labels[r], fill="black")
        for c, img in enumerate(row):
            tile = Image.fromarray(img.squeeze(-1) if img.shape[-1] == 1 else img)
            tile = tile.convert("RGB").resize((cw, ch), Image.Resampling.NEAREST)
            sheet.paste(tile, (label_w + pad + c * (cw + pad), y))
        for c, text in enumerate(captions[r] if captions else []):
            text = text if len(text) <= fit else text[:fit - 2] + ".."
            draw.text((label_w + pad + c * (cw + pad), y + ch + 1), text, fill="black")
    return sheet
