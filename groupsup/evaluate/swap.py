"""Swap accuracy: does an independent classifier see the attribute values a synthesis asked for?"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from groupsup.errors import DataError
from groupsup.evaluate.arrays import ArrayLike, AttributeAccuracy, as_label_matrix
from groupsup.evaluate.classifier import AttributeClassifier


@dataclass(frozen=True)
class SwapAccuracy(AttributeAccuracy):
    """Per attribute, the fraction of images whose predicted value is the requested one."""

    attributes: tuple[str, ...]
    accuracy: np.ndarray
    all_correct: float
    n: int
    config: dict[str, Any] = field(default_factory=dict)

    @property
    def mean(self) -> float:
        return self.mean_accuracy

    def to_dict(self) -> dict[str, Any]:
        return self.accuracy_record("swap_accuracy", "mean", all_correct=self.all_correct,
                                    n=self.n)


def swap_accuracy(classifier: AttributeClassifier, images: ArrayLike,
                  requested_labels: ArrayLike, *, batch_size: int = 256) -> SwapAccuracy:
    """Classify synthesised ``images (N, C, H, W)`` in ``[-1, 1]``; compare with the
    ``requested_labels (N, A)`` codes the synthesis was asked to show.

    Returns the per-attribute accuracy and ``all_correct``, the fraction of images with every
    attribute recognised.
    """
    requested = as_label_matrix(requested_labels, "requested_labels", rows=len(images))
    if requested.shape[1] != len(classifier.cardinalities):
        raise DataError(f"requested_labels must have shape (N, {len(classifier.cardinalities)}) "
                        f"for attributes {list(classifier.names)}, got {requested.shape}")
    predicted = classifier.predict(images, batch_size=batch_size)
    hits = predicted == requested
    return SwapAccuracy(classifier.names, hits.mean(axis=0), float(hits.all(axis=1).mean()),
                        len(requested), {"classifier": classifier.config()})
