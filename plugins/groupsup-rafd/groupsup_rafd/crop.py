"""A fixed square head crop of RaFD's 681x1024 portrait frames.

The box is given relative to the frame, so it means the same at any resolution: its centre as
fractions of the frame's width and height, its side as a fraction of the width. The default
(centre 0.5, 0.42; side 0.8) is, on a raw frame, the 545 px square at columns 68-612 and rows
158-702: the upper-middle of the portrait, where RaFD's head-and-shoulders framing puts the
head. The authors' own crop was not released; preview the default on your copy (the plugin's
README shows how) and move the box if it cuts hair or chin.
"""

from __future__ import annotations

import math

from PIL import Image
from pydantic import BaseModel, ConfigDict, Field

import groupsup as gs


class CropBox(BaseModel):
    """A square crop box relative to the frame; calling it crops a ``PIL.Image``."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    centre_x: float = Field(default=0.5, ge=0, le=1, description="fraction of the frame width")
    centre_y: float = Field(default=0.42, ge=0, le=1, description="fraction of the frame height")
    side: float = Field(default=0.8, gt=0, le=1, description="fraction of the frame width")

    def box(self, width: int, height: int) -> tuple[int, int, int, int]:
        """``(left, top, right, bottom)`` in pixels for a ``width`` x ``height`` frame."""
        side = max(1, _nearest(self.side * width))
        left = _nearest(self.centre_x * width - side / 2)
        top = _nearest(self.centre_y * height - side / 2)
        return left, top, left + side, top + side

    def __call__(self, image: Image.Image) -> Image.Image:
        width, height = image.size
        left, top, right, bottom = box = self.box(width, height)
        if left < 0 or top < 0 or right > width or bottom > height:
            raise gs.DataError(f"crop box {box} (left, top, right, bottom) does not fit the "
                               f"{width}x{height} frame; adjust crop centre_x, centre_y or side")
        return image.crop(box)


def _nearest(x: float) -> int:
    """Round half up (Python's round() sends halves to even, shifting boxes unpredictably)."""
    return math.floor(x + 0.5)
