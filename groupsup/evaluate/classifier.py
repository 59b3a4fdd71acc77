"""An independent attribute classifier: a small CNN with one head per attribute.

It is trained on real images and then judges synthesised ones (see
:func:`groupsup.evaluate.swap_accuracy`). Sized for CPUs: stride-2 3x3 convolutions with
batch norm halve the image until it is at most 8 pixels on a side (16 -> 128 px all work),
adaptive average pooling to 4x4, one shared hidden layer, then a linear head per attribute.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from torch import nn

from groupsup.data import GroupDataset
from groupsup.errors import ConfigError, DataError
from groupsup.evaluate.arrays import (
    ArrayLike,
    AttributeAccuracy,
    as_label_matrix,
    chance_level,
    json_array,
    names_for,
)
from groupsup.evaluate.seeding import Seed, make_rng, seed_record, split_indices


class AttributeClassifier(nn.Module):
    """CNN ``(B, C, H, W)`` images in ``[-1, 1]`` -> one ``(B, K_a)`` logit tensor per attribute.

    ``in_channels``: 1 or 3. ``cardinalities``: classes per attribute. ``image_size``: the
    larger of H and W, fixes the number of stride-2 stages (``ceil(log2(size / 8))``, at least
    2). ``width``: channels of the first stage (doubling per stage, capped at 4x).
    """

    def __init__(self, in_channels: int, cardinalities: Sequence[int], image_size: int = 32,
                 width: int = 32, hidden: int = 128, names: Sequence[str] | None = None):
        super().__init__()
        if in_channels not in (1, 3):
            raise ConfigError(f"in_channels must be 1 or 3, got {in_channels}")
        if not cardinalities or any(k < 1 for k in cardinalities):
            raise ConfigError(f"cardinalities must be positive class counts, got "
                              f"{list(cardinalities)}")
        if image_size < 8:
            raise ConfigError(f"image_size must be at least 8 pixels, got {image_size}")
        self.in_channels = in_channels
        self.cardinalities = tuple(int(k) for k in cardinalities)
        self.image_size = image_size
        self.width, self.hidden = width, hidden
        self.names = names_for(names, len(self.cardinalities), "names", "attr")
        stages = max(2, math.ceil(math.log2(image_size / 8)))
        layers: list[nn.Module] = []
        channels = in_channels
        for i in range(stages):
            out = width * min(2**i, 4)
            layers += [nn.Conv2d(channels, out, 3, stride=2, padding=1, bias=False),
                       nn.BatchNorm2d(out), nn.ReLU(inplace=True)]
            channels = out
        layers += [nn.AdaptiveAvgPool2d(4), nn.Flatten(), nn.Linear(channels * 16, hidden),
                   nn.ReLU(inplace=True)]
        self.trunk = nn.Sequential(*layers)
        self.heads = nn.ModuleList(nn.Linear(hidden, k) for k in self.cardinalities)

    def config(self) -> dict[str, Any]:
        """The constructor arguments (JSON-able), to rebuild the network beside its state dict."""
        return {"in_channels": self.in_channels, "cardinalities": list(self.cardinalities),
                "image_size": self.image_size, "width": self.width, "hidden": self.hidden,
                "names": list(self.names)}

    def forward(self, images: torch.Tensor) -> list[torch.Tensor]:
        features = self.trunk(images)
        return [head(features) for head in self.heads]

    def predict(self, images: ArrayLike, batch_size: int = 256) -> np.ndarray:
        """``(N, C, H, W)`` images in ``[-1, 1]`` -> ``(N, A)`` int64 predicted codes.

        Runs in eval mode (batch-norm running statistics) without gradients.
        """
        x = _as_image_batch(images, "images", self.in_channels)
        device = next(self.parameters()).device
        was_training = self.training
        self.eval()
        out = []
        with torch.no_grad():
            for start in range(0, len(x), batch_size):
                logits = self(x[start:start + batch_size].to(device))
                out.append(torch.stack([lg.argmax(dim=1) for lg in logits], dim=1).cpu())
        self.train(was_training)
        return torch.cat(out).numpy() if out else np.zeros((0, len(self.heads)), np.int64)


def _as_image_batch(images: ArrayLike, name: str, channels: int | None = None) -> torch.Tensor:
    x = images.detach() if isinstance(images, torch.Tensor) else torch.as_tensor(
        np.asarray(images))
    if x.ndim != 4 or (channels is not None and x.shape[1] != channels):
        want = f"(N, {channels}, H, W)" if channels else "(N, C, H, W)"
        raise DataError(f"{name} must have shape {want} (floats in [-1, 1]), got "
                        f"{tuple(x.shape)}")
    if not x.is_floating_point():
        raise DataError(f"{name} must be float images in [-1, 1], got dtype {x.dtype}")
    return x.float()


@dataclass
class ClassifierFit(AttributeAccuracy):
    """A trained :class:`AttributeClassifier` and its accuracy on held-out real images."""

    classifier: AttributeClassifier
    accuracy: np.ndarray
    chance: np.ndarray
    config: dict[str, Any] = field(default_factory=dict)

    @property
    def attributes(self) -> tuple[str, ...]:
        return tuple(self.classifier.names)

    def to_dict(self) -> dict[str, Any]:
        return self.accuracy_record("classifier_accuracy", "mean_accuracy",
                                    chance=json_array(self.chance))


def train_classifier(
    images: GroupDataset | ArrayLike, labels: ArrayLike | None = None,
    cardinalities: Sequence[int] | None = None, *, names: Sequence[str] | None = None,
    steps: int | None = None, epochs: float | None = None, batch_size: int = 64,
    lr: float = 2e-3, width: int = 32, seed: Seed = 0, time_budget: float | None = None,
    test_fraction: float = 0.2, train_index: ArrayLike | None = None,
    test_index: ArrayLike | None = None, device: str | torch.device = "cpu",
) -> ClassifierFit:
    """Train an :class:`AttributeClassifier` on real images; score it on held-out ones.

    ``images``: a :class:`~groupsup.GroupDataset` (labels, cardinalities and names come from
    it; images are loaded batch by batch) or float images ``(N, C, H, W)`` in ``[-1, 1]`` with
    integer ``labels (N, A)`` (cardinalities default to ``max + 1`` per column). Training
    runs ``steps`` Adam steps of ``batch_size`` images (or ``epochs`` passes over the training
    split; default 10 epochs), stopping early once ``time_budget`` seconds have passed. Rows
    are drawn from ``seed``; weights are initialised from it too, so on the CPU the same seed
    gives the same classifier (unless the time budget cuts training short).
    """
    load, y, cards, names = _training_data(images, labels, cardinalities, names)
    rng = make_rng(seed)
    train, test = split_indices(len(y), rng, test_fraction, train_index, test_index)
    if batch_size < 1:
        raise ConfigError(f"batch_size must be positive, got {batch_size}")
    total = _step_count(steps, epochs, len(train), batch_size)
    probe_image = load(train[:1])
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(int(rng.integers(2**62)))
        model = AttributeClassifier(probe_image.shape[1], cards, max(probe_image.shape[-2:]),
                                    width=width, names=names).to(device)
    optimiser = torch.optim.Adam(model.parameters(), lr=lr)
    targets = torch.from_numpy(y)
    model.train()
    batches = _shuffled_batches(train, batch_size, rng)
    start, done = time.perf_counter(), 0
    while done < total:
        rows = next(batches)
        done += 1
        logits = model(load(rows).to(device))
        batch_targets = targets[rows].to(device)
        loss = sum(nn.functional.cross_entropy(lg, batch_targets[:, a])
                   for a, lg in enumerate(logits))
        optimiser.zero_grad(set_to_none=True)
        loss.backward()
        optimiser.step()
        if time_budget is not None and time.perf_counter() - start >= time_budget:
            break
    seconds = time.perf_counter() - start
    predicted = np.concatenate([model.predict(load(test[i:i + 512]))
                                for i in range(0, len(test), 512)])
    model.eval()
    return ClassifierFit(
        model, (predicted == y[test]).mean(axis=0), chance_level(y[test]),
        {"seed": seed_record(seed), "steps": done,
         "planned_steps": total, "batch_size": batch_size, "lr": lr, "width": width,
         "seconds": round(seconds, 3), "time_budget": time_budget, "n_train": len(train),
         "n_test": len(test), "architecture": model.config()},
    )


def _training_data(
    images: GroupDataset | ArrayLike, labels: ArrayLike | None,
    cardinalities: Sequence[int] | None, names: Sequence[str] | None,
) -> tuple[Callable[[np.ndarray], torch.Tensor], np.ndarray, tuple[int, ...], tuple[str, ...]]:
    """A loader ``rows -> (n, C, H, W)`` float images, labels ``(N, A)``, cardinalities, names."""
    if isinstance(images, GroupDataset):
        if labels is not None:
            raise ConfigError("labels come from the GroupDataset; do not pass labels as well")
        images.require_known("train_classifier")  # a judge learns from complete labels only
        y = images.labels
        cards = tuple(cardinalities or images.schema.cardinalities)
        return images.load, y, cards, tuple(names or images.schema.names)
    x = _as_image_batch(images, "images")
    if labels is None:
        raise ConfigError("train_classifier needs labels (N, A) with image arrays")
    y = as_label_matrix(labels, "labels", rows=len(x))
    cards = tuple(cardinalities) if cardinalities is not None else tuple(
        int(c) + 1 for c in y.max(axis=0))
    if len(cards) != y.shape[1]:
        raise ConfigError(f"cardinalities must give {y.shape[1]} class counts (one per label "
                          f"column), got {list(cards)}")
    too_big = np.flatnonzero(y.max(axis=0) >= np.array(cards))
    if too_big.size:
        j = int(too_big[0])
        raise DataError(f"labels column {j} holds code {int(y[:, j].max())} but cardinalities "
                        f"says {cards[j]} classes")
    return (lambda rows: x[torch.from_numpy(rows)]), y, cards, names_for(
        names, y.shape[1], "names", "attr")


def _shuffled_batches(rows: np.ndarray, batch_size: int,
                      rng: np.random.Generator) -> Iterator[np.ndarray]:
    """Endless batches: each pass over *rows* in a fresh random order (a short tail is dropped)."""
    size = min(batch_size, len(rows))
    while True:
        order = rng.permutation(rows)
        for start in range(0, len(order) - size + 1, size):
            yield order[start:start + size]


def _step_count(steps: int | None, epochs: float | None, n_train: int, batch_size: int) -> int:
    if steps is not None and epochs is not None:
        raise ConfigError("give steps or epochs, not both")
    if steps is not None:
        if steps < 1:
            raise ConfigError(f"steps must be positive, got {steps}")
        return steps
    epochs = 10.0 if epochs is None else epochs
    if epochs <= 0:
        raise ConfigError(f"epochs must be positive, got {epochs}")
    return max(1, math.ceil(epochs * n_train / batch_size))
