"""Zero-shot synthesis with a trained model: providers drawn from training, blocks assembled.

For a target combination and each attribute j, :func:`draw_providers` picks a training example
showing the target's value of j; :func:`synthesize` encodes the providers, assembles block j of
the code from provider j and decodes. :func:`leakage_swaps` swaps one block at a time into base
images for the leakage matrix; :func:`instance_reference` is what a perfect synthesis would
score where a combination has several real images. Used by :func:`groupsup.evaluate_run`.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from groupsup.data import GroupDataset
from groupsup.errors import DataError
from groupsup.evaluate.arrays import json_float
from groupsup.evaluate.judge import Judge
from groupsup.evaluate.leakage import Leakage, leakage, other_values
from groupsup.evaluate.synthesis import synthesis_quality
from groupsup.model import SwapAutoencoder


def draw_providers(labels: np.ndarray, train: np.ndarray, targets: np.ndarray,
                   rng: np.random.Generator, *, spare: np.ndarray | None = None,
                   target_ids: np.ndarray | None = None) -> np.ndarray:
    """For each target row and attribute j, a random training example with the target's value
    of j. ``labels (N, A)``; ``train (T,)`` ids; ``targets (n, A)`` codes -> ``(n, A)`` ids.

    A value absent from training (the novel-identity protocol: test people never seen) raises
    :class:`DataError`, unless *spare* ids (the test split) are given: its provider then comes
    from *spare*, another example than the target itself (*target_ids* ``(n,)``) where one
    exists. :func:`novel_values` counts such targets. An unknown (-1) target value raises; a
    training example whose value of j is unknown is never a provider for j.
    """
    n, a = targets.shape
    if (targets < 0).any():
        row, col = (int(v[0]) for v in np.nonzero(targets < 0))
        raise DataError(f"attribute #{col}: target {row} has an unknown value (-1); a "
                        "synthesis target needs every value known")
    out = np.empty((n, a), dtype=np.int64)
    for j in range(a):  # a loop over attributes; every draw inside is vectorised
        start, count, order = _pools(labels[train, j], targets[:, j])
        missing = count == 0
        if missing.any() and spare is None:
            bad = int(targets[np.flatnonzero(missing)[0], j])
            raise DataError(f"attribute #{j}: value code {bad} of a test example never occurs "
                            "in training, so it cannot be synthesised zero-shot")
        pick = start + (rng.random(n) * count).astype(np.int64)
        out[~missing, j] = train[order[pick[~missing]]]
        if missing.any():
            rows = np.flatnonzero(missing)
            out[rows, j] = _draw_spare(labels[:, j], np.asarray(spare), targets[rows, j],
                                       None if target_ids is None else target_ids[rows], rng, j)
    return out


def _pools(values: np.ndarray, wanted: np.ndarray
           ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(start, count, order)``: example positions ``order[start:start + count]`` of
    *values* hold each *wanted* value."""
    order = np.argsort(values, kind="stable")
    sorted_values = values[order]
    start = np.searchsorted(sorted_values, wanted, "left")
    return start, np.searchsorted(sorted_values, wanted, "right") - start, order


def _draw_spare(column: np.ndarray, spare: np.ndarray, wanted: np.ndarray,
                avoid: np.ndarray | None, rng: np.random.Generator, j: int) -> np.ndarray:
    """Providers of *wanted* values ``(m,)`` drawn from *spare* ids, never the id in *avoid*
    where the value has another example."""
    start, count, order = _pools(column[spare], wanted)
    if (count == 0).any():
        bad = int(wanted[np.flatnonzero(count == 0)[0]])
        raise DataError(f"attribute #{j}: value code {bad} of a test example occurs neither "
                        "in training nor in another test example")
    pick = start + (rng.random(len(wanted)) * count).astype(np.int64)
    chosen = spare[order[pick]]
    if avoid is not None:  # the target itself would hand its truth to the synthesis: step on
        again = (chosen == avoid) & (count > 1)
        pick[again] = start[again] + (pick[again] - start[again] + 1) % count[again]
        chosen = spare[order[pick]]
    return chosen


def novel_values(labels: np.ndarray, train: np.ndarray, targets: np.ndarray,
                 names: list[str]) -> dict[str, int]:
    """``{attribute: number of target rows}`` whose value of that attribute never occurs in
    training (``targets (n, A)`` codes); empty under a zero-shot combination split."""
    counts = {name: int((~np.isin(targets[:, j], labels[train, j])).sum())
              for j, name in enumerate(names)}
    return {name: k for name, k in counts.items() if k}


@torch.no_grad()
def encode_all(model: SwapAutoencoder, data: GroupDataset, ids: np.ndarray,
               device: str, batch: int = 256) -> torch.Tensor:
    """Codes ``(len(ids), Z)`` of the given examples, encoded in batches."""
    return torch.cat([model.encode(data.load(ids[i:i + batch]).to(device)).cpu()
                      for i in range(0, len(ids), batch)])


@torch.no_grad()
def synthesize(model: SwapAutoencoder, data: GroupDataset, providers: np.ndarray,
               device: str, batch: int = 128, free: np.ndarray | None = None) -> torch.Tensor:
    """Images ``(n, C, H, W)`` in [-1, 1] whose block j comes from example ``providers[:, j]``
    (``(n, A)``, one column per attribute's block). A model with an unlabelled block takes it
    from example ``free[i]`` (``(n,)``), or from a last column of *providers*."""
    blocks = len(model.partition)
    if free is not None:
        if model.partition.free is None:
            raise DataError("free providers were given, but the model has no unlabelled block")
        providers = np.concatenate([providers, np.asarray(free).reshape(-1, 1)], axis=1)
    if providers.ndim != 2 or providers.shape[1] != blocks:
        free_name = model.partition.free
        hint = (f"; the unlabelled block {free_name!r} needs its provider too (free=)"
                if free_name else "")
        raise DataError(f"providers must have shape (n, {blocks}) for blocks "
                        f"{list(model.partition.names)}, got {providers.shape}{hint}")
    out = []
    for i in range(0, len(providers), batch):
        rows = providers[i:i + batch]
        unique, inverse = np.unique(rows, return_inverse=True)
        z = model.encode(data.load(unique).to(device))
        code = model.partition.assemble(z, torch.from_numpy(inverse.reshape(rows.shape)))
        out.append(model.to_image(model.decode(code)).cpu())
    return torch.cat(out)


def instance_reference(data: GroupDataset, targets: np.ndarray, truth: torch.Tensor,
                       rng: np.random.Generator) -> dict[str, Any]:
    """PSNR and SSIM between each target and another real image of the same combination.

    Where a combination has several images (real photos, handwriting, jittered renders), a
    synthesis cannot know the target's unlabelled variation; this is what a perfect model
    would score against one instance. ``None`` when no target has such a twin (e.g. a
    dataset rendered once per combination, where the ground truth is exact).
    """
    _, inverse = np.unique(data.labels, axis=0, return_inverse=True)
    inverse = inverse.reshape(-1)
    members: dict[int, np.ndarray] = {}
    keep, twins = [], []
    for i, t in enumerate(targets.tolist()):
        g = int(inverse[t])
        if g not in members:
            members[g] = np.flatnonzero(inverse == g)
        others = members[g][members[g] != t]
        if len(others):
            keep.append(i)
            twins.append(int(others[rng.integers(len(others))]))
    if not keep:
        return {"instance_reference_psnr": None, "instance_reference_ssim": None,
                "instance_reference_n": 0}
    pair = synthesis_quality(data.load(np.array(twins)), truth[np.array(keep)],
                             data_range=2.0).overall
    return {"instance_reference_psnr": json_float(pair["psnr"]),
            "instance_reference_ssim": pair["ssim"], "instance_reference_n": len(keep)}


def leakage_swaps(model: SwapAutoencoder, data: GroupDataset, judge: Judge, bases: np.ndarray,
                  train: np.ndarray, rng: np.random.Generator, device: str) -> Leakage:
    """Swap one block at a time into the *bases* from training providers; judge the results.

    For block j (named after attribute j), each base gets a provider drawn from *train* among
    the examples with another value of attribute j than the base's (any training example when
    attribute j has one value in training), a value that with the base's others makes a
    combination the dataset holds where one does; the other blocks stay the base's. The
    unlabelled block, named after no attribute, gets any training example (its row is the
    ``free_leakage`` of ``groupsup evaluate``).
    """
    data.require_known("leakage")  # bases and providers are compared value by value
    labels, names = data.labels, list(data.schema.names)
    blocks = list(model.partition.names)
    held = set(map(tuple, np.unique(labels, axis=0).tolist()))
    predicted, provider_labels, unseen = [], [], []
    for j, block in enumerate(blocks):
        k = names.index(block) if block in names else None
        missing = 0
        if k is None:
            pick = rng.choice(train, size=len(bases))
        else:
            present = np.unique(labels[train, k])
            wanted = labels[bases].copy()
            if len(present) > 1:  # a random other value among those training shows
                wanted[:, k], missing = other_values(labels[bases], k, present, held, rng)
            pick = draw_providers(labels[:, [k]], train, wanted[:, [k]], rng)[:, 0]
        unseen.append(missing)
        providers = np.repeat(bases[:, None], len(blocks), axis=1)
        providers[:, j] = pick
        predicted.append(judge.classifier.predict(synthesize(model, data, providers, device)))
        provider_labels.append(labels[pick])
    return leakage(np.stack(predicted), labels[bases], np.stack(provider_labels),
                   blocks=blocks, attributes=names, unreliable=judge.unreliable, unseen=unseen)
