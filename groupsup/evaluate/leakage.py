"""Leakage: swapping one latent block must change that block's attribute and nothing else.

For a base image b and a provider p, the synthesis takes every block from b except block j,
which comes from p. The judge reads every attribute k of the synthesis. The rate of (j, k) is

    #{pairs: judge(k) == value_k(p)} / #{pairs: value_k(p) != value_k(b)}

over the pairs drawn for block j: how often attribute k follows the provider of block j
instead of the base. Pairs whose provider and base share the value of k are left out of (j, k)
(whatever the judge reads, it cannot tell which of the two it follows). The diagonal (block j,
its own attribute) is the swap success; off the diagonal it is leakage, ideally 0.

The provider's value of attribute j is chosen so that the base with that value is a combination
the dataset holds, where one exists: a combination the data never shows may be one that cannot
be drawn (in Fonts a letter in its own background colour is invisible, so the judge could read
nothing of it), and reading it would count the judge's guesses as leakage.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from groupsup.errors import DataError
from groupsup.evaluate.arrays import json_array, json_float
from groupsup.fileio import atomic_save


@dataclass(frozen=True)
class Leakage:
    """``matrix`` ``(B, A)``: per block (rows) and attribute (columns), the rate at which the
    judge's reading of the attribute follows the block's provider; NaN where no pair counts.
    ``counts`` ``(B, A)``: the pairs counted. ``unreliable``: attributes the judge misreads.
    ``unseen`` ``(B,)``: per block, the pairs whose synthesis is a combination the dataset does
    not hold (no other value of the block's attribute made one for that base)."""

    blocks: tuple[str, ...]
    attributes: tuple[str, ...]
    matrix: np.ndarray
    counts: np.ndarray
    unreliable: tuple[str, ...] = ()
    unseen: tuple[int, ...] = ()

    def _diagonal_mask(self) -> np.ndarray:
        return np.array([[b == a for a in self.attributes] for b in self.blocks], dtype=bool)

    @property
    def diagonal_mean(self) -> float:
        """Mean swap success over blocks named after an attribute (NaN entries skipped)."""
        values = self.matrix[self._diagonal_mask()]
        return float(np.nanmean(values)) if np.isfinite(values).any() else float("nan")

    @property
    def off_diagonal_mean(self) -> float:
        """Mean leakage over the (block, other attribute) pairs (NaN entries skipped)."""
        values = self.matrix[~self._diagonal_mask()]
        return float(np.nanmean(values)) if np.isfinite(values).any() else float("nan")

    def to_dict(self) -> dict[str, Any]:
        return {"metric": "leakage", "blocks": list(self.blocks),
                "attributes": list(self.attributes), "matrix": json_array(self.matrix),
                "counts": self.counts.astype(int).tolist(),
                "diagonal_mean": json_float(self.diagonal_mean),
                "off_diagonal_mean": json_float(self.off_diagonal_mean),
                "unreliable_attributes": list(self.unreliable),
                "unseen_combination_pairs": list(self.unseen),
                "definition": "rate at which the judge's reading of attribute k on a "
                              "synthesis follows the provider of block j instead of the base; "
                              "pairs where provider and base share k's value are excluded"}

    def plot(self, path: str | Path, title: str = "leakage") -> Path:
        """An annotated heatmap PNG (rows blocks, columns attributes; ``*``: unreliable)."""
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure

        b, a = self.matrix.shape
        fig = Figure(figsize=(1.3 * a + 2.2, 0.7 * b + 1.6), dpi=100)
        FigureCanvasAgg(fig)
        ax = fig.add_subplot(1, 1, 1)
        image = ax.imshow(np.nan_to_num(self.matrix, nan=0.0), vmin=0, vmax=1, cmap="magma_r")
        fig.colorbar(image, ax=ax, fraction=0.046, pad=0.04)
        ax.set_xticks(range(a), [f"{n}*" if n in self.unreliable else n
                                 for n in self.attributes], rotation=30, ha="right")
        ax.set_yticks(range(b), [f"block {n}" for n in self.blocks])
        for i in range(b):
            for k in range(a):
                value = self.matrix[i, k]
                ax.text(k, i, "n/a" if not np.isfinite(value) else f"{value:.2f}",
                        ha="center", va="center", fontsize=8,
                        color="white" if np.isfinite(value) and value > 0.5 else "black")
        ax.set_xlabel("attribute read by the judge" + (" (* unreliable judge)"
                                                      if self.unreliable else ""))
        ax.set_title(title, fontsize=10)
        fig.tight_layout()
        return atomic_save(path, lambda tmp: fig.savefig(tmp, format="png"))


def leakage(predicted: np.ndarray, base_labels: np.ndarray, provider_labels: np.ndarray, *,
            blocks: Sequence[str], attributes: Sequence[str],
            unreliable: Sequence[str] = (), unseen: Sequence[int] = ()) -> Leakage:
    """The leakage matrix from the judge's readings of block-swapped syntheses.

    ``predicted`` ``(B, n, A)``: codes the judge reads on the synthesis of pair i for block j;
    ``base_labels`` ``(n, A)`` or ``(B, n, A)``: the bases' labels; ``provider_labels``
    ``(B, n, A)``: the labels of block j's provider of pair i; ``unseen`` ``(B,)``: per block,
    the pairs whose synthesis is a combination the data does not hold (reported only).
    """
    predicted = np.asarray(predicted)
    provider_labels = np.asarray(provider_labels)
    base = np.broadcast_to(np.asarray(base_labels), predicted.shape)
    if predicted.ndim != 3 or provider_labels.shape != predicted.shape:
        raise DataError(f"predicted and provider_labels must have one shape (B, n, A), got "
                        f"{predicted.shape} and {provider_labels.shape}")
    if predicted.shape[0] != len(blocks) or predicted.shape[2] != len(attributes):
        raise DataError(f"predicted has shape {predicted.shape}; expected ({len(blocks)}, n, "
                        f"{len(attributes)}) for blocks {list(blocks)} and attributes "
                        f"{list(attributes)}")
    differ = provider_labels != base
    follows = (predicted == provider_labels) & differ
    counts = differ.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        matrix = np.where(counts > 0, follows.sum(axis=1) / np.maximum(counts, 1), np.nan)
    return Leakage(tuple(blocks), tuple(attributes), matrix, counts, tuple(unreliable),
                   tuple(int(n) for n in unseen))


def other_values(rows: np.ndarray, k: int, present: np.ndarray, held: set[tuple[int, ...]],
                 rng: np.random.Generator) -> tuple[np.ndarray, int]:
    """For each label row, a random value of attribute *k* among *present* other than the
    row's own, preferring values that make a combination in *held* (the dataset's label rows);
    also the number of rows for which no value did (they get any other value)."""
    out = np.empty(len(rows), dtype=np.int64)
    unseen = 0
    candidates = present.tolist()
    for i, row in enumerate(rows.tolist()):
        others = [v for v in candidates if v != row[k]]
        kept = [v for v in others if (*row[:k], v, *row[k + 1:]) in held]
        unseen += not kept
        choice = kept or others
        out[i] = choice[int(rng.integers(len(choice)))]
    return out, unseen
