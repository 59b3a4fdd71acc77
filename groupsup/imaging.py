"""Image sheets: grids of uint8 images with row labels, saved atomically as PNG."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw


def save_png(image: Image.Image, path: str | os.PathLike) -> Path:
    """Save through a temporary file and a rename, so a reader never sees half a PNG."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.stem}.", suffix=".png", dir=path.parent)
    os.close(fd)
    try:
        image.save(tmp, format="PNG")
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


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
