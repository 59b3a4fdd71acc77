"""The co-prediction matrix: how well each latent block predicts each attribute.

For every block b of the latent partition and every attribute a, a probe is fit on training
codes ``z[:, block b]`` to predict ``a``, and scored on held-out codes. A disentangled model
predicts attribute a from its own block (the diagonal) and only at chance from the others.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from groupsup.errors import DataError
from groupsup.evaluate.arrays import (
    ArrayLike,
    as_float_matrix,
    as_label_matrix,
    chance_level,
    compact_labels,
    defined_mean,
    json_array,
    json_float,
    names_for,
)
from groupsup.evaluate.probes import fit_probes, stack_blocks
from groupsup.evaluate.seeding import Seed, make_rng, seed_record, split_indices, torch_generator
from groupsup.fileio import atomic_save
from groupsup.partition import LatentPartition


def normalise_to_chance(accuracy: np.ndarray, chance: np.ndarray) -> np.ndarray:
    """``(acc - chance) / (1 - chance)`` over the last axis; NaN where chance is 1."""
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(chance < 1.0, (accuracy - chance) / (1.0 - chance), np.nan)


@dataclass(frozen=True)
class CoPrediction:
    """Held-out probe accuracy of every latent block (rows) for every attribute (columns).

    ``matrix`` and ``train_matrix`` are ``(B, A)``; ``chance (A,)`` is the majority-class
    frequency of each attribute on the test rows. The diagonal is every (block, attribute) pair
    with the same name.
    """

    blocks: tuple[str, ...]
    attributes: tuple[str, ...]
    matrix: np.ndarray
    train_matrix: np.ndarray
    chance: np.ndarray
    config: dict[str, Any] = field(default_factory=dict)

    @property
    def normalized(self) -> np.ndarray:
        """``(B, A)``: ``(acc - chance) / (1 - chance)``; 0 is chance, 1 is perfect."""
        return normalise_to_chance(self.matrix, self.chance)

    @property
    def diagonal(self) -> np.ndarray:
        """``(B, A)`` bool: True where the block and the attribute have one name."""
        return np.array(self.blocks)[:, None] == np.array(self.attributes)[None, :]

    def _mean(self, values: np.ndarray, on_diagonal: bool) -> float:
        return defined_mean(values[self.diagonal if on_diagonal else ~self.diagonal])

    @property
    def diagonal_mean(self) -> float:
        return self._mean(self.matrix, True)

    @property
    def off_diagonal_mean(self) -> float:
        return self._mean(self.matrix, False)

    @property
    def excess(self) -> np.ndarray:
        """``(B, A)``: accuracy above the attribute's majority-class rate (0: chance)."""
        return self.matrix - self.chance[None, :]

    @property
    def off_diagonal_chance(self) -> float:
        """The majority-class rate averaged over the off-diagonal entries: what
        :attr:`off_diagonal_mean` is for blocks that carry nothing but their own attribute."""
        return self._mean(np.broadcast_to(self.chance[None, :], self.matrix.shape), False)

    @property
    def off_diagonal_excess_max(self) -> float:
        """The largest off-diagonal accuracy above its attribute's chance (NaN: none)."""
        values = self.excess[~self.diagonal]
        values = values[np.isfinite(values)]
        return float(values.max()) if len(values) else float("nan")

    @property
    def normalized_diagonal_mean(self) -> float:
        return self._mean(self.normalized, True)

    @property
    def normalized_off_diagonal_mean(self) -> float:
        return self._mean(self.normalized, False)

    def to_dict(self) -> dict[str, Any]:
        return {
            "metric": "coprediction", "blocks": list(self.blocks),
            "attributes": list(self.attributes), "matrix": json_array(self.matrix),
            "normalized_matrix": json_array(self.normalized),
            "train_matrix": json_array(self.train_matrix), "chance": json_array(self.chance),
            "diagonal_mean": json_float(self.diagonal_mean),
            "off_diagonal_mean": json_float(self.off_diagonal_mean),
            "off_diagonal_chance": json_float(self.off_diagonal_chance),
            "off_diagonal_excess_max": json_float(self.off_diagonal_excess_max),
            "normalized_diagonal_mean": json_float(self.normalized_diagonal_mean),
            "normalized_off_diagonal_mean": json_float(self.normalized_off_diagonal_mean),
            "config": dict(self.config),
        }

    def plot(self, path: str | Path, normalized: bool = False, title: str | None = None) -> Path:
        """Write an annotated heatmap PNG (blocks x attributes) to *path*; returns the path."""
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure

        values = self.normalized if normalized else self.matrix
        b, a = values.shape
        fig = Figure(figsize=(1.1 * a + 2.2, 0.7 * b + 1.6))
        FigureCanvasAgg(fig)
        ax = fig.add_subplot()
        image = ax.imshow(values, vmin=0.0, vmax=1.0, cmap="viridis")
        for (i, j), v in np.ndenumerate(values):
            ax.text(j, i, "-" if np.isnan(v) else f"{v:.2f}", ha="center", va="center",
                    color="black" if np.nan_to_num(v) > 0.6 else "white", fontsize=9)
        ax.set_xticks(range(a), [f"{n}\n({c:.2f})" for n, c in zip(self.attributes, self.chance)])
        ax.set_yticks(range(b), list(self.blocks))
        ax.set_xlabel("attribute predicted (chance)")
        ax.set_ylabel("latent block")
        kind = "chance-normalised accuracy" if normalized else "held-out accuracy"
        ax.set_title(title or f"co-prediction, {self.config.get('probe', '')} probe: {kind}",
                     fontsize=10)
        fig.colorbar(image, ax=ax, fraction=0.046, pad=0.04)
        fig.tight_layout()
        # the temporary name has no suffix to infer the format from
        kind = Path(path).suffix.lstrip(".") or "png"
        return atomic_save(path, lambda tmp: fig.savefig(tmp, format=kind, dpi=120))


def coprediction(
    codes: ArrayLike, labels: ArrayLike, partition: LatentPartition, *,
    attributes: Sequence[str] | None = None, probe: str = "logistic", seed: Seed = 0,
    test_fraction: float = 0.25, train_index: ArrayLike | None = None,
    test_index: ArrayLike | None = None, l2: float = 1e-4, iterations: int = 50,
    hidden: int = 32, device: str | torch.device = "cpu",
) -> CoPrediction:
    """Fit a probe for every latent block x every attribute; score it on held-out codes.

    ``codes``: ``(N, Z)`` latent codes with ``Z = partition.size``. ``labels``: ``(N, A)``
    integer attribute codes (any non-negative integers; renumbered internally).
    ``attributes`` names the label columns (default: the partition's block names when
    ``A`` equals the number of blocks). The split: ``train_index``/``test_index`` rows, or a
    random ``test_fraction`` drawn from ``seed``. ``probe``: ``"logistic"`` (multinomial
    logistic regression) or ``"mlp"`` (``hidden`` ReLU units), fit by full-batch L-BFGS for
    at most ``iterations`` steps with L2 penalty ``l2`` on standardised codes; all ``B x A``
    probes are fit as one batched problem on ``device``.
    """
    if not isinstance(partition, LatentPartition):
        raise DataError(f"partition must be a LatentPartition (e.g. Schema.partition), got "
                        f"{type(partition).__name__}")
    z = as_float_matrix(codes, "codes")
    if z.shape[1] != partition.size:
        raise DataError(f"codes must have shape (N, {partition.size}) for {partition!r}, got "
                        f"{tuple(z.shape)}")
    y = as_label_matrix(labels, "labels", rows=z.shape[0])
    default = partition.names if y.shape[1] == len(partition) and attributes is None else None
    names = default or names_for(attributes, y.shape[1], "attributes", "attr")
    y, cards = compact_labels(y)
    rng = make_rng(seed)
    train, test = split_indices(len(z), rng, test_fraction, train_index, test_index)
    x = stack_blocks(z, partition.sizes).to(device)
    targets = torch.from_numpy(y).to(device)
    probes = fit_probes(probe, x[:, train], targets[train], cards, l2=l2, iterations=iterations,
                        generator=torch_generator(rng), hidden=hidden)
    config = {"probe": probe, "seed": seed_record(seed),
              "n_train": len(train), "n_test": len(test), "l2": l2, "iterations": iterations,
              "cardinalities": list(cards), "partition": partition.to_dict()}
    if probe == "mlp":
        config["hidden"] = hidden
    return CoPrediction(
        blocks=partition.names, attributes=names,
        matrix=probes.accuracy(x[:, test], targets[test]).cpu().numpy(),
        train_matrix=probes.accuracy(x[:, train], targets[train]).cpu().numpy(),
        chance=chance_level(y[test]), config=config,
    )
