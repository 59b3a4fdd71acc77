"""Sample sheets written during training: reconstructions and one row of swaps per block.

``RUN/samples/step-000250.png`` for step 250; a run keeps the newest ``train.keep_samples``.
"""

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


def sheet_step(path: Path) -> int:
    """The step of a ``step-000250.png`` sheet."""
    return int(path.stem.removeprefix("step-"))


def sample_sheets(folder: Path) -> list[Path]:
    """The sheets in *folder*, oldest first."""
    return sorted((p for p in folder.glob("step-*.png") if p.stem[5:].isdigit()),
                  key=sheet_step)


def prune_samples(folder: Path, keep: int) -> list[Path]:
    """Delete all but the newest *keep* sheets in *folder* (the one just written stays);
    returns the deleted ones."""
    old = sample_sheets(folder)[:-keep]
    for path in old:
        path.unlink(missing_ok=True)
    return old


def remove_sheets_after(folder: Path, step: int) -> list[Path]:
    """Delete the sheets in *folder* of steps after *step* (a resumed run draws them again);
    returns them."""
    later = [sheet for sheet in sample_sheets(folder) if sheet_step(sheet) > step]
    for sheet in later:
        sheet.unlink()
    return later
