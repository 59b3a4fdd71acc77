"""AE+DS: direct supervision of every latent block by a classifier of its own attribute.

The paper's AE+DS baseline (docs/method.md §4) is the same autoencoder, trained to reconstruct,
with a classifier on each latent block; at synthesis blocks are swapped exactly as in GZS-Net
(:meth:`groupsup.SwapAutoencoder.synthesize`). Here the classifiers are linear heads owned by
the ``block-classifier`` loss term, optimised with the model by the trainer.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

import groupsup as gs


class BlockClassifier(gs.LossTerm):
    """Direct supervision: a linear head on latent block j predicts attribute j; the value is
    the mean over attributes of the cross-entropy (nats) on the step's examples.
    """

    name = "block-classifier"
    compares = "codes"

    def __init__(self, options=None, distance: str = "l1") -> None:
        super().__init__(options, distance)
        self.heads: nn.ModuleList | None = None

    def build(self, model: gs.SwapAutoencoder) -> nn.ModuleList:
        """One ``Linear(block width, cardinality)`` per attribute, in partition order."""
        cardinalities = model.schema.cardinalities
        self.heads = nn.ModuleList(nn.Linear(width, classes) for width, classes
                                   in zip(model.partition.sizes, cardinalities))
        return self.heads

    def logits(self, z: torch.Tensor, partition: gs.LatentPartition) -> list[torch.Tensor]:
        """Codes ``(B, Z)`` -> one ``(B, K_j)`` logit tensor per attribute."""
        if self.heads is None:
            raise gs.ConfigError("loss term 'block-classifier' has no heads yet: call "
                                 "recipe.build(model) first")
        return [head(block) for head, block in zip(self.heads, partition.split(z).values())]

    def run(self, step: gs.StepContext) -> torch.Tensor:
        labels = step.labels
        losses = [F.cross_entropy(logits, labels[:, j])
                  for j, logits in enumerate(self.logits(step.z, step.partition))]
        return torch.stack(losses).mean()
