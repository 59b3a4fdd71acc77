"""What ``groupsup evaluate`` reports about a model's unlabelled block.

- :func:`free_rows`: the unlabelled block's row of the leakage matrix (``free_leakage``: how
  often each attribute of a synthesis follows the provider of that block instead of the base)
  and of the co-prediction matrix (each attribute read from that block alone, beside chance).
  Both should be near 0 / chance: an attribute carried there is one the decoder may take from
  it instead of the attribute's own block, and swapping that block then fails.
- :func:`free_sweep`: a sheet whose rows vary only the unlabelled block's provider.
- :func:`unnamed_attributes`: where the evaluation's dataset labels attributes the model was
  trained without (e.g. Fonts evaluated with its font column, trained without it), a judge
  fitted on every label reads them on the held-out syntheses; such an attribute should follow
  the unlabelled block's provider (``follows_free``), since that block is where the model
  had to keep it.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from groupsup.data import GroupDataset, to_uint8
from groupsup.errors import DataError
from groupsup.evaluate.arrays import json_array
from groupsup.evaluate.coprediction import CoPrediction
from groupsup.evaluate.judge import fit_judge
from groupsup.evaluate.leakage import Leakage
from groupsup.imaging import image_grid, save_png
from groupsup.model import SwapAutoencoder
from groupsup.runs.zeroshot import synthesize

FREE_PROVIDER = ("the unlabelled block {!r} from a random training image (the base), not the "
                 "target nor an attribute's provider")


def free_line(free_leakage: dict[str, float | None]) -> str:
    """One console line of ``free_leakage``."""
    return "free leakage (attribute follows the unlabelled block's provider): " + ", ".join(
        f"{a} {'n/a' if v is None else f'{v:.3f}'}" for a, v in free_leakage.items())


def free_rows(leak: Leakage, co: CoPrediction, names: Sequence[str]) -> dict[str, Any]:
    """``{"free_leakage": {attribute: rate}, "free_coprediction": {...}}`` from the last rows
    (the unlabelled block's) of the leakage and co-prediction matrices."""
    return {
        "free_leakage": dict(zip(names, json_array(leak.matrix[-1]))),
        "free_coprediction": {
            "accuracy": dict(zip(names, json_array(co.matrix[-1]))),
            "chance": dict(zip(names, json_array(co.chance))),
            "excess_max": float(np.max(co.excess[-1])),
            "definition": "held-out accuracy of a probe reading each attribute from the "
                          "unlabelled block alone, beside its majority-class rate"}}


def model_view(dataset: GroupDataset, model: SwapAutoencoder) -> GroupDataset:
    """*dataset* restricted to the attributes the model was trained with; itself when it labels
    no others. Raises :class:`DataError` when it lacks one of the model's attributes or codes
    one of them with another vocabulary."""
    names = list(model.schema.names)
    missing = [n for n in names if n not in dataset.schema.names]
    if missing:
        raise DataError(f"dataset {dataset.name!r} does not label the model's attributes "
                        f"{missing}; it labels {list(dataset.schema.names)}")
    if list(dataset.schema.names) == names:
        return dataset
    for name in names:
        if dataset.schema[name].values != model.schema[name].values:
            raise DataError(f"attribute {name!r}: dataset {dataset.name!r} has the values "
                            f"{list(dataset.schema[name].values or ())}, the model was trained "
                            f"with {list(model.schema[name].values or ())}")
    return dataset.columns(names)


def unnamed_attributes(full: GroupDataset, model: SwapAutoencoder, synth: Any,
                       free_ids: np.ndarray, providers: np.ndarray, train: np.ndarray,
                       test: np.ndarray | None, *, steps: int, seed: int, device: str
                       ) -> dict[str, Any]:
    """The attributes *full* labels and the model does not, read on the syntheses *synth*
    (``(n, C, H, W)``, unlabelled block from ``free_ids (n,)``, attribute j's block from
    ``providers[:, j]``) by a judge fitted on every attribute of *full*.

    Per unnamed attribute: ``follows_free``, the rate at which the reading equals the value of
    the unlabelled block's provider; ``follows_providers``, the rate at which it equals the
    value of some attribute's provider instead (where that differs from the free provider's);
    the judge's accuracy on real images it did not train on, and chance.
    """
    names = [n for n in full.schema.names if n not in model.schema.names]
    judge = fit_judge(full, train=train, test=test, steps=steps, seed=seed, device=device)
    read = judge.classifier.predict(synth)
    result: dict[str, Any] = {}
    for name in names:
        k = list(full.schema.names).index(name)
        wanted = full.labels[free_ids, k]
        others = full.labels[providers, k]  # (n, A): the value at every attribute's provider
        elsewhere = (others == read[:, [k]]).any(1) & (read[:, k] != wanted)
        result[name] = {"follows_free": float(np.mean(read[:, k] == wanted)),
                        "follows_providers": float(np.mean(elsewhere)),
                        "judge_accuracy": float(judge.accuracy[k]),
                        "chance": float(judge.chance[k]),
                        "unreliable": name in judge.unreliable}
    return {"attributes": result, "n": len(free_ids),
            "definition": "attributes the evaluation's dataset labels and the model was "
                          "trained without, read on the held-out syntheses by a judge fitted "
                          "on every label: follows_free is how often the reading is the "
                          "unlabelled block's provider's value"}



def unnamed_line(result: dict[str, Any]) -> str:
    """One console line of :func:`unnamed_attributes`' result."""
    return "attributes the model does not name, read on the syntheses: " + ", ".join(
        f"{a} follows the unlabelled block's provider {v['follows_free']:.3f} (chance "
        f"{v['chance']:.2f}{', UNRELIABLE judge' if v['unreliable'] else ''})"
        for a, v in result["attributes"].items())


def free_sweep(model: SwapAutoencoder, data: GroupDataset, bases: np.ndarray,
               providers: np.ndarray, device: str, path: str | Path) -> Path:
    """A sheet in which each row varies only the unlabelled block: the first row shows the
    block's providers (*providers* ``(k,)`` ids), every next row a base (*bases* ``(r,)``
    ids) and then its syntheses with every attribute's block from the base and the
    unlabelled block from each provider in turn."""
    n = len(providers)
    rows = [to_uint8(torch.cat([torch.full((1, *data.image_shape), 1.0),
                                data.load(providers)]))]
    for base in bases.tolist():
        attributes = np.full((n, len(model.partition.labelled)), base, dtype=np.int64)
        synth = synthesize(model, data, attributes, device, free=providers)
        rows.append(to_uint8(torch.cat([data.load([base]), synth])))
    labels = ["base", *(f"from #{p}" for p in providers.tolist())]
    return save_png(image_grid(rows, column_labels=labels), path)
