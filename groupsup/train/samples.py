"""Sample sheets written during training: reconstructions and one row of swaps per block."""

from __future__ import annotations

from pathlib import Path

import torch

from groupsup.data import to_uint8
from groupsup.imaging import image_grid, save_png
from groupsup.model import SwapAutoencoder


@torch.no_grad()
def sample_sheet(model: SwapAutoencoder, images: torch.Tensor, path: Path) -> Path:
    """Rows: originals, block donors (the originals shifted by one), reconstructions, then for
    each attribute the original with that block taken from its donor.

    ``images``: ``(n, C, H, W)`` in ``[-1, 1]``, n >= 2.
    """
    was_training = model.training
    model.eval()
    try:
        donors = images.roll(1, dims=0)
        rows = [images, donors, model.reconstruct(images)]
        labels = ["original", "donor", "recon"]
        for name in model.partition.names:
            rows.append(model.swap(images, donors, name)[0])
            labels.append(f"swap {name}")
    finally:
        model.train(was_training)
    return save_png(image_grid([to_uint8(r) for r in rows], labels), path)
