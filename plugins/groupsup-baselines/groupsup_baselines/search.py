"""Exhaustive search of latent dimensions for a model trained without a partition (beta-VAE).

The paper evaluates beta-VAE "with exhaustive search": after training, find for each attribute
the latent dimensions that carry it, and swap those at synthesis. Here every dimension d is
scored against every attribute j by its normalised mutual information on training codes,
``I(z_d; v_j) / H(v_j)`` (histogram estimate, :func:`groupsup.evaluate.mig`), and assigned to
the attribute it informs most; each attribute keeps at least its best dimension. The assignment
becomes a :class:`~groupsup.LatentPartition` of the *reordered* code (blocks are contiguous),
and :meth:`SearchedPartition.apply` wraps the model so that its codes come out in that order.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

import groupsup as gs
import groupsup.evaluate as ev
from groupsup.fileio import atomic_write_text


@dataclass(frozen=True)
class SearchedPartition:
    """A latent partition found after training.

    - ``partition``: blocks of the reordered code ``z[:, order]``, in attribute order;
    - ``order`` ``(Z,)``: the original dimensions, block by block;
    - ``assignment`` ``(Z,)``: the attribute index each original dimension was given;
    - ``scores`` ``(Z, A)``: normalised mutual information of every dimension and attribute.
    """

    partition: gs.LatentPartition
    order: np.ndarray
    assignment: np.ndarray
    scores: np.ndarray
    config: dict[str, Any] = field(default_factory=dict)

    def dimensions(self, attribute: str) -> list[int]:
        """The original latent dimensions assigned to *attribute*."""
        j = self.partition.index(attribute)
        return np.flatnonzero(self.assignment == j).tolist()

    def apply(self, model: gs.SwapAutoencoder) -> gs.SwapAutoencoder:
        """A view of *model* whose codes are reordered so that the searched blocks are the
        partition's blocks (shares the weights; eval mode)."""
        if model.partition.size != len(self.order):
            raise gs.PartitionError(f"searched partition covers {len(self.order)} dimensions, "
                                    f"the model's code has {model.partition.size}")
        schema = model.schema.with_latent(**self.partition.to_dict())
        backbone = ReorderedBackbone(model.backbone, self.order)
        device = next(model.parameters()).device
        return gs.SwapAutoencoder(backbone, schema, model.image_shape,
                                  registries=model.registries).to(device).eval()

    def to_dict(self) -> dict[str, Any]:
        return {"partition": self.partition.to_dict(),
                "dimensions": {n: self.dimensions(n) for n in self.partition.names},
                "scores": np.round(self.scores, 4).tolist(), "config": dict(self.config)}


class ReorderedBackbone(gs.Backbone):
    """``inner`` with its code dimensions permuted: ``encode = inner.encode(x)[:, order]``.

    Not registered: a run-time view used for evaluation, never saved.
    """

    def __init__(self, inner: gs.Backbone, order: np.ndarray) -> None:
        super().__init__(inner.image_shape, inner.latent_size)
        if sorted(np.asarray(order).tolist()) != list(range(inner.latent_size)):
            raise gs.PartitionError(f"order must be a permutation of 0..{inner.latent_size - 1}")
        self.inner = inner
        self.output = inner.output
        index = torch.as_tensor(np.asarray(order), dtype=torch.int64)
        self.register_buffer("order", index, persistent=False)
        self.register_buffer("inverse", torch.argsort(index), persistent=False)

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        """``(B, C, H, W)`` -> ``(B, Z)`` in the searched order."""
        return self.inner.encode(x)[:, self.order]

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        """``(B, Z)`` in the searched order -> ``(B, C, H, W)``."""
        self.check_code(z)
        return self.inner.decode(z[:, self.inverse])


def assign_dimensions(codes: np.ndarray, labels: np.ndarray, names: Sequence[str], *,
                      bins: int = 20) -> SearchedPartition:
    """Search on fixed arrays: ``codes (N, Z)``, integer ``labels (N, A)``, attribute *names*.

    Needs ``Z >= A`` (every attribute gets at least one dimension).
    """
    codes, labels = np.asarray(codes, dtype=np.float64), np.asarray(labels)
    if codes.ndim != 2 or labels.ndim != 2 or len(codes) != len(labels):
        raise gs.DataError(f"codes must be (N, Z) and labels (N, A) with one N, got "
                           f"{codes.shape} and {labels.shape}")
    z, a = codes.shape[1], labels.shape[1]
    if len(names) != a or z < a:
        raise gs.DataError(f"need one name per label column ({a}) and at least as many latent "
                           f"dimensions ({z}) as attributes")
    info = ev.mig(codes, labels, bins=bins, factor_names=list(names))
    entropy = np.where(info.entropy > 0, info.entropy, np.inf)
    scores = info.mutual_information / entropy[None, :]                      # (Z, A)
    assignment = scores.argmax(axis=1)
    # an attribute that no dimension informs most takes its best dimension among those whose
    # attribute has more than one (so no block ends up empty)
    for j in np.argsort(-scores.max(axis=0), kind="stable"):
        if (assignment == j).any():
            continue
        counts = np.bincount(assignment, minlength=a)
        spare = np.flatnonzero(counts[assignment] > 1)
        assignment[spare[np.argmax(scores[spare, j])]] = j
    order = np.argsort(assignment, kind="stable")
    sizes = np.bincount(assignment, minlength=a)
    partition = gs.LatentPartition([(n, int(s)) for n, s in zip(names, sizes)])
    return SearchedPartition(partition, order, assignment, scores,
                             {"bins": bins, "examples": len(codes), "score": "normalised MI"})


@torch.no_grad()
def search_partition(model: gs.SwapAutoencoder, dataset: gs.GroupDataset,
                     ids: np.ndarray | None = None, *, examples: int = 2000, bins: int = 20,
                     seed: int = 0, device: str = "cpu") -> SearchedPartition:
    """Encode up to *examples* of ``dataset[ids]`` (mean codes, eval mode) drawn from *seed*
    and assign every latent dimension to an attribute (:func:`assign_dimensions`)."""
    ids = np.arange(len(dataset)) if ids is None else np.asarray(ids, dtype=np.int64)
    rng = np.random.default_rng(seed)
    ids = np.sort(rng.choice(ids, size=min(examples, len(ids)), replace=False))
    was_training = model.training
    model.eval()
    try:
        codes = torch.cat([model.encode(dataset.load(ids[i:i + 256]).to(device)).cpu()
                           for i in range(0, len(ids), 256)])
    finally:
        model.train(was_training)
    result = assign_dimensions(codes.numpy(), dataset.labels[ids], model.schema.names, bins=bins)
    return SearchedPartition(result.partition, result.order, result.assignment, result.scores,
                             {**result.config, "seed": seed})


@dataclass(frozen=True)
class PartitionSearch:
    """An ``adapt`` callable for :func:`groupsup.evaluate.run.evaluate_run`: searches the
    partition on the run's training split, writes it to *out* (JSON) when given, and
    evaluates the reordered model."""

    examples: int = 2000
    bins: int = 20
    seed: int = 0
    out: Path | None = None

    def __call__(self, model: gs.SwapAutoencoder, dataset: gs.GroupDataset,
                 train: np.ndarray) -> gs.SwapAutoencoder:
        device = str(next(model.parameters()).device)
        found = search_partition(model, dataset, train, examples=self.examples, bins=self.bins,
                                 seed=self.seed, device=device)
        if self.out is not None:
            atomic_write_text(self.out, json.dumps(found.to_dict(), indent=2))
        return found.apply(model)
