"""Searching the latent dimensions of a model trained without a partition (beta-VAE, beta-TCVAE).

The paper evaluates beta-VAE and beta-TCVAE "with exhaustive search": after training, find for
each attribute the latent dimensions that carry it, and swap those at synthesis. Two methods
(:func:`assign_dimensions`, ``method=``; the ``vae`` backbone's ``search`` option chooses
for ``groupsup compare``):

- ``"exhaustive"``: every assignment of the Z dimensions to the A attributes, each attribute
  taking 1 to ``max_block`` dimensions and every dimension one attribute, is scored by the sum
  over attributes of how well the attribute's block predicts it on held-out training codes
  (:func:`block_information`: a naive-Bayes probe of the block, ``1 - cross-entropy / H(v)``,
  so a block's score is not the sum of its dimensions' scores). The best assignment is found
  exactly, by dynamic programming over subsets of dimensions (every assignment's score is
  reached, none is listed one by one): ``A x S x 2^Z`` updates for S allowed blocks. Where
  that exceeds ``max_work`` (Z = 100 is far beyond), or no assignment fits the size cap, the
  search falls back to ``"nmi"`` and logs a warning saying so; the result's ``config`` records
  the method used and why.
- ``"nmi"``: every dimension d is scored against every attribute j by its normalised mutual
  information on training codes, ``I(z_d; v_j) / H(v_j)`` (histogram estimate,
  :func:`groupsup.evaluate.mig`), and assigned to the attribute it informs most; each
  attribute keeps at least its best dimension. A greedy stand-in that scales to any Z.

Either assignment becomes a :class:`~groupsup.LatentPartition` of the *reordered* code
(blocks are contiguous), and :meth:`SearchedPartition.apply` wraps the model so that its codes
come out in that order.
"""

from __future__ import annotations

import itertools
import json
import logging
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

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


Method = Literal["nmi", "exhaustive"]
METHODS: tuple[str, ...] = ("nmi", "exhaustive")
# A x S x 2^Z subset updates the exhaustive search may take (a few seconds of numpy)
MAX_WORK = 200_000_000
log = logging.getLogger(__name__)


def _check_inputs(codes: np.ndarray, labels: np.ndarray, names: Sequence[str]
                  ) -> tuple[np.ndarray, np.ndarray]:
    codes, labels = np.asarray(codes, dtype=np.float64), np.asarray(labels)
    if codes.ndim != 2 or labels.ndim != 2 or len(codes) != len(labels):
        raise gs.DataError(f"codes must be (N, Z) and labels (N, A) with one N, got "
                           f"{codes.shape} and {labels.shape}")
    z, a = codes.shape[1], labels.shape[1]
    if len(names) != a or z < a:
        raise gs.DataError(f"need one name per label column ({a}) and at least as many latent "
                           f"dimensions ({z}) as attributes")
    return codes, labels


def _searched(names: Sequence[str], assignment: np.ndarray, scores: np.ndarray,
              config: dict[str, Any]) -> SearchedPartition:
    order = np.argsort(assignment, kind="stable")
    sizes = np.bincount(assignment, minlength=len(names))
    partition = gs.LatentPartition([(n, int(s)) for n, s in zip(names, sizes)])
    return SearchedPartition(partition, order, assignment, scores, config)


def nmi_assignment(codes: np.ndarray, labels: np.ndarray, names: Sequence[str], *,
                   bins: int = 20) -> SearchedPartition:
    """Each dimension to the attribute it informs most by normalised mutual information."""
    codes, labels = _check_inputs(codes, labels, names)
    a = labels.shape[1]
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
    return _searched(names, assignment, scores, {"method": "nmi", "bins": bins,
                                                 "examples": len(codes),
                                                 "score": "normalised MI"})


def block_subsets(dimensions: int, max_block: int) -> list[tuple[int, ...]]:
    """Every set of 1 to *max_block* of the *dimensions*, smallest first."""
    return [s for k in range(1, min(max_block, dimensions) + 1)
            for s in itertools.combinations(range(dimensions), k)]


def block_information(codes: np.ndarray, labels: np.ndarray,
                      subsets: Sequence[tuple[int, ...]], *, seed: int = 0,
                      held_out: float = 1 / 3) -> np.ndarray:
    """``(S, A)``: how well each block of dimensions (*subsets*) predicts each attribute, on
    held-out rows: ``1 - CE / H(v)`` of a naive-Bayes probe (per class, a Gaussian per
    dimension of the standardised codes, fitted on the other rows), where CE is the probe's
    cross-entropy (nats) on the held-out rows and H(v) the attribute's entropy. 1: the block
    names the value; 0: it says no more than the class frequencies; negative: worse.

    ``codes (N, Z)``, integer ``labels (N, A)``; the held-out rows are drawn from *seed*.
    """
    codes = np.asarray(codes, dtype=np.float64)
    codes = (codes - codes.mean(0)) / np.maximum(codes.std(0), 1e-12)
    rng = np.random.default_rng(seed)
    rows = rng.permutation(len(codes))
    cut = max(1, round(len(rows) * (1 - held_out)))
    fit, test = rows[:cut], rows[cut:]
    if len(test) == 0:
        raise gs.DataError(f"block_information needs rows to hold out, got {len(codes)}")
    out = np.empty((len(subsets), labels.shape[1]))
    for j in range(labels.shape[1]):
        classes, y = np.unique(labels[:, j], return_inverse=True)
        counts = np.bincount(y[fit], minlength=len(classes)) + 1.0          # smoothed
        prior = counts / counts.sum()
        entropy = -(prior * np.log(prior)).sum()
        means = np.stack([codes[fit][y[fit] == c].mean(0) if (y[fit] == c).any()
                          else np.zeros(codes.shape[1]) for c in range(len(classes))])
        var = np.stack([codes[fit][y[fit] == c].var(0) if (y[fit] == c).sum() > 1
                        else np.ones(codes.shape[1]) for c in range(len(classes))])
        var = np.maximum(var, 1e-2)
        x = codes[test][:, :, None]                                         # (T, Z, 1)
        # (T, Z, K): log N(x_d; mean_cd, var_cd)
        per_dim = -0.5 * (np.log(2 * np.pi * var.T)[None] + (x - means.T[None]) ** 2
                          / var.T[None])
        for size in sorted({len(s) for s in subsets}):
            which = [i for i, s in enumerate(subsets) if len(s) == size]
            index = np.array([subsets[i] for i in which])                   # (S_k, k)
            joint = per_dim[:, index, :].sum(axis=2) + np.log(prior)        # (T, S_k, K)
            log_post = joint - np.logaddexp.reduce(joint, axis=2, keepdims=True)
            ce = -np.take_along_axis(log_post, y[test][:, None, None], axis=2)[..., 0].mean(0)
            out[which, j] = 1 - ce / entropy if entropy > 0 else 0.0
    return out


def best_assignment(scores: np.ndarray, subsets: Sequence[tuple[int, ...]], dimensions: int
                    ) -> tuple[np.ndarray, float] | None:
    """The assignment of every dimension to one attribute maximising the sum over attributes
    of ``scores[s, a]`` for the subset s attribute a receives (one of *subsets*): exact, by
    dynamic programming over subsets of dimensions. ``scores (S, A)``. Returns
    ``(assignment (Z,), total score)``, or ``None`` when no assignment fits *subsets*."""
    attributes = scores.shape[1]
    masks = np.arange(2 ** dimensions)
    bits = np.array([sum(1 << d for d in s) for s in subsets])
    best = np.full(len(masks), -np.inf)
    best[0] = 0.0
    choices = []
    for a in range(attributes):
        nxt = np.full(len(masks), -np.inf)
        choice = np.full(len(masks), -1)
        for i, bit in enumerate(bits):
            within = masks[(masks & bit) == bit]
            candidate = best[within ^ bit] + scores[i, a]
            better = candidate > nxt[within]
            nxt[within[better]] = candidate[better]
            choice[within[better]] = i
        best = nxt
        choices.append(choice)
    full = len(masks) - 1
    if not np.isfinite(best[full]):
        return None
    assignment = np.empty(dimensions, dtype=np.int64)
    mask = full
    for a in reversed(range(attributes)):
        subset = subsets[choices[a][mask]]
        assignment[list(subset)] = a
        mask ^= int(bits[choices[a][mask]])
    return assignment, float(best[full])


def assign_dimensions(codes: np.ndarray, labels: np.ndarray, names: Sequence[str], *,
                      method: Method = "nmi", bins: int = 20, max_block: int = 4,
                      max_work: int = MAX_WORK, seed: int = 0) -> SearchedPartition:
    """Search on fixed arrays: ``codes (N, Z)``, integer ``labels (N, A)``, attribute *names*.

    *method*: ``"exhaustive"`` (falls back to ``"nmi"``, with a logged warning, where the
    search space exceeds *max_work* or no assignment has blocks of at most *max_block*) or
    ``"nmi"``; see the module docstring. Needs ``Z >= A`` (every attribute gets at least one
    dimension). *seed* draws the held-out rows of the exhaustive search's scores.
    """
    if method not in METHODS:
        raise gs.ConfigError(f"search method {method!r} is not one of {list(METHODS)}")
    codes, labels = _check_inputs(codes, labels, names)
    if method == "nmi":
        return nmi_assignment(codes, labels, names, bins=bins)
    z, a = codes.shape[1], labels.shape[1]
    subsets = math.fsum(math.comb(z, k) for k in range(1, min(max_block, z) + 1))
    work = a * subsets * 2.0 ** z
    reason = None
    if work > max_work:
        reason = (f"the exhaustive search over {z} dimensions and {a} attributes (blocks of "
                  f"at most {max_block}) takes {work:.3g} updates, more than max_work "
                  f"{max_work:.3g}")
    elif a * max_block < z:
        reason = (f"{a} attributes with blocks of at most {max_block} dimensions cannot "
                  f"cover {z} dimensions")
    if reason is None:
        candidates = block_subsets(z, max_block)
        scores = block_information(codes, labels, candidates, seed=seed)
        found = best_assignment(scores, candidates, z)
        if found is not None:
            assignment, total = found
            single = scores[:z]                     # the blocks of one dimension, in order
            return _searched(names, assignment, single, {
                "method": "exhaustive", "max_block": max_block, "examples": len(codes),
                "seed": seed, "score": "held-out naive-Bayes information of each block",
                "objective": round(total, 6), "blocks_scored": len(candidates)})
        reason = f"no assignment of {z} dimensions fits blocks of at most {max_block}"
    log.warning("partition search: %s; falling back to the NMI assignment", reason)
    result = nmi_assignment(codes, labels, names, bins=bins)
    return SearchedPartition(result.partition, result.order, result.assignment, result.scores,
                             {**result.config, "requested": "exhaustive", "fallback": reason})


@torch.no_grad()
def search_partition(model: gs.SwapAutoencoder, dataset: gs.GroupDataset,
                     ids: np.ndarray | None = None, *, examples: int = 2000, bins: int = 20,
                     seed: int = 0, device: str = "cpu", method: Method | None = None,
                     max_block: int = 4) -> SearchedPartition:
    """Encode up to *examples* of ``dataset[ids]`` (mean codes, eval mode) drawn from *seed*
    and assign every latent dimension to an attribute (:func:`assign_dimensions`) by *method*
    (default: the backbone's ``search`` option, else ``"nmi"``)."""
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
    method = method or getattr(model.backbone.config, "search", "nmi")
    result = assign_dimensions(codes.numpy(), dataset.labels[ids], model.schema.names,
                               method=method, bins=bins, max_block=max_block, seed=seed)
    return SearchedPartition(result.partition, result.order, result.assignment, result.scores,
                             {**result.config, "seed": seed})


@dataclass(frozen=True)
class PartitionSearch:
    """An ``adapt`` callable for :func:`groupsup.evaluate_run`: searches the partition on the
    run's training split (by *method*, default the backbone's ``search`` option), writes it to
    *out* (JSON) when given, and evaluates the reordered model."""

    examples: int = 2000
    method: Method | None = None
    max_block: int = 4
    bins: int = 20
    seed: int = 0
    out: Path | None = None

    def __call__(self, model: gs.SwapAutoencoder, dataset: gs.GroupDataset,
                 train: np.ndarray) -> gs.SwapAutoencoder:
        device = str(next(model.parameters()).device)
        found = search_partition(model, dataset, train, examples=self.examples, bins=self.bins,
                                 seed=self.seed, device=device, method=self.method,
                                 max_block=self.max_block)
        if self.out is not None:
            atomic_write_text(self.out, json.dumps(found.to_dict(), indent=2))
        return found.apply(model)
