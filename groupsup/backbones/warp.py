"""A geometric home for the unlabelled block: it moves the decoded image, and nothing else.

With ``free_warp="shift"`` (or ``"affine"``) a :class:`~groupsup.SwapAutoencoder` does not
feed its unlabelled block to the backbone's decoder (those inputs are zero); a small head maps
the block to a bounded 2-D translation (or affine transform: shift, rotation, scale, shear),
applied to the decoded output by bilinear resampling. The block can then carry where (and, with
``"affine"``, at what slant and scale) an image's content sits, which no label names (a
writer's shift and slant, an object's place in the crop), but it cannot carry *what* is drawn:
a digit's identity, a letter or a colour stay with the labelled blocks, so the shortcut through
the unlabelled block is closed by construction rather than by a penalty. Choose the smallest
kind that covers the data's unnamed motion: an affine warp also scales and shears, so it takes
a labelled size (or a font's width and slant) away from its block, where a shift cannot.
Variation that is not geometric (lighting, a font's style) needs the plain block
(``free_warp=None``).

The head starts at the identity transform (zero weights and bias), so at initialisation the
model decodes exactly as without the warp.
"""

from __future__ import annotations

from typing import Literal

import torch
import torch.nn.functional as F
from torch import nn

WarpKind = Literal["shift", "affine"]
WARP_KINDS: tuple[str, ...] = ("shift", "affine")
PARAMETERS = {"shift": 2, "affine": 6}


class FreeWarp(nn.Module):
    """Unlabelled block ``(B, width)`` -> translation (*kind* ``"shift"``) or affine transform
    (``"affine"``) of an image batch ``(B, C, H, W)``.

    The parameters are bounded: the linear part within ``max_linear`` of the identity in
    each entry (``"affine"`` only; a shift keeps it the identity), the shift within
    ``max_shift`` (in the ``[-1, 1]`` coordinates of :func:`torch.nn.functional.affine_grid`,
    so 0.5 is a quarter of the side). Pixels pulled from outside the canvas repeat its border
    (the background, for most images).
    """

    def __init__(self, width: int, kind: WarpKind = "affine", *, max_linear: float = 0.5,
                 max_shift: float = 0.5) -> None:
        super().__init__()
        self.kind = kind
        self.head = nn.Linear(width, PARAMETERS[kind])
        nn.init.zeros_(self.head.weight)
        nn.init.zeros_(self.head.bias)
        self.max_linear = max_linear
        self.max_shift = max_shift

    def theta(self, free: torch.Tensor) -> torch.Tensor:
        """The ``(B, 2, 3)`` affine matrices the block *free* ``(B, width)`` stands for."""
        raw = torch.tanh(self.head(free))
        shift = raw[:, -2:] * self.max_shift
        identity = raw.new_tensor([1.0, 0.0, 0.0, 1.0])
        linear = (raw[:, :4] * self.max_linear + identity if self.kind == "affine"
                  else identity.expand(raw.shape[0], 4))
        return torch.stack([linear[:, 0], linear[:, 1], shift[:, 0],
                            linear[:, 2], linear[:, 3], shift[:, 1]], dim=1).view(-1, 2, 3)

    def forward(self, image: torch.Tensor, free: torch.Tensor) -> torch.Tensor:
        """*image* ``(B, C, H, W)`` resampled through the transform of *free* ``(B, width)``."""
        theta = self.theta(free).to(image.dtype)
        grid = F.affine_grid(theta, list(image.shape), align_corners=False)
        return F.grid_sample(image, grid, mode="bilinear", padding_mode="border",
                             align_corners=False)

    def extra_repr(self) -> str:
        return f"kind={self.kind!r}, max_linear={self.max_linear}, max_shift={self.max_shift}"
