"""What the adversarial baselines (StarGAN, ELEGANT) share: a discriminator owned by a loss
term, and one optimiser step that trains it and the generator together.

The trainer has one optimiser over the model's parameters and those its loss terms own
(:meth:`groupsup.LossTerm.build`), and steps it on the gradient of the recipe's total. A GAN
needs the discriminator to *maximise* what the generator minimises. The smallest sound way to
express that in one backward pass, with no second optimiser and no change to the trainer:

- the discriminator's loss ``L_D`` is computed on *detached* generated images, so its gradient
  reaches the discriminator only;
- the generator's loss ``L_G`` is computed through the discriminator with its parameters
  *detached* (:func:`frozen`, a ``torch.func.functional_call`` with detached tensors), so its
  gradient reaches the generator only;
- the term returns ``L_D + L_G``: one backward fills each player's gradient with its own
  loss's, and the optimiser's step is a simultaneous gradient step of both players (the
  alternating scheme of the papers, with both updates taken from the same batch).

A gradient-reversal layer would give the discriminator ``-dL_G`` instead, which for the
non-saturating loss used here is not the discriminator's objective; hence the two losses.
Both players share the run's optimiser settings (Adam, ``optim.lr``); the term's weight
scales both. The adversarial loss is the non-saturating one, ``softplus(-D(fake))`` for the
generator and ``softplus(-D(real)) + softplus(D(fake))`` for the discriminator, where StarGAN
uses WGAN-GP with five critic steps per generator step and ELEGANT LSGAN: one optimiser step
per batch allows one critic step, for which WGAN's critic is not meant.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn
from torch.func import functional_call

import groupsup as gs


def frozen(module: nn.Module, *inputs: torch.Tensor) -> Any:
    """``module(*inputs)`` with every parameter and buffer detached: gradients reach the
    inputs, never the module."""
    state = {name: t.detach() for name, t in
             [*module.named_parameters(), *module.named_buffers()]}
    return functional_call(module, state, inputs)


def generator_loss(fake_logits: torch.Tensor) -> torch.Tensor:
    """Non-saturating GAN loss of the generator: ``mean softplus(-D(fake))``."""
    return F.softplus(-fake_logits).mean()


def discriminator_loss(real_logits: torch.Tensor, fake_logits: torch.Tensor) -> torch.Tensor:
    """``mean softplus(-D(real)) + mean softplus(D(fake))`` (binary cross-entropy)."""
    return F.softplus(-real_logits).mean() + F.softplus(fake_logits).mean()


def one_hot_labels(labels: torch.Tensor, widths: Sequence[int]) -> torch.Tensor:
    """Integer codes ``(B, A)`` -> concatenated one-hot vectors ``(B, sum widths)``, attribute
    j's of width ``widths[j]`` (its cardinality, or more: zero-padded)."""
    return torch.cat([F.one_hot(labels[:, j], k) for j, k in enumerate(widths)],
                     dim=1).float()


class Discriminator(nn.Module):
    """PatchGAN-style critic at CPU scale: images ``(B, C, H, W)`` (and, when
    ``condition > 0``, a vector ``(B, condition)`` tiled into as many constant channels, as
    conditional discriminators take labels) -> adversarial logits ``(B,)`` and, for each of
    *classes*, attribute logits ``(B, K_j)`` (StarGAN's auxiliary classifier).

    Stride-2 4x4 convolutions with LeakyReLU(0.2), no normalisation, from *width* channels
    doubling up to ``4 x width``, down to a 4x4 map (at least two of them).
    """

    def __init__(self, image_shape: tuple[int, int, int], *, width: int = 32,
                 condition: int = 0, classes: Sequence[int] = ()) -> None:
        super().__init__()
        channels, height, _ = image_shape
        stages = max(2, int(math.log2(max(height, 8) // 4)))
        layers: list[nn.Module] = []
        inputs = channels + condition
        for i in range(stages):
            out = width * min(2 ** i, 4)
            layers += [nn.Conv2d(inputs, out, 4, stride=2, padding=1), nn.LeakyReLU(0.2)]
            inputs = out
        self.condition = condition
        self.trunk = nn.Sequential(*layers)
        self.adversarial = nn.Conv2d(inputs, 1, 3, padding=1)
        self.classifiers = nn.ModuleList(nn.Linear(inputs, k) for k in classes)

    def forward(self, images: torch.Tensor, condition: torch.Tensor | None = None
                ) -> tuple[torch.Tensor, list[torch.Tensor]]:
        if self.condition:
            if condition is None or condition.shape != (len(images), self.condition):
                raise ValueError(f"this discriminator takes a condition (B, {self.condition})")
            maps = condition[:, :, None, None].expand(-1, -1, *images.shape[2:])
            images = torch.cat([images, maps.to(images.dtype)], dim=1)
        features = self.trunk(images)
        adversarial = self.adversarial(features).mean(dim=(1, 2, 3))
        pooled = features.mean(dim=(2, 3))
        return adversarial, [head(pooled) for head in self.classifiers]


class DiscriminatorTerm(gs.LossTerm):
    """A loss term that owns a :class:`Discriminator` (its config has the first channel count,
    ``width``), made by its :meth:`build` from the model; ``widths`` are the one-hot widths of
    the attributes' labels."""

    def __init__(self, options=None, distance: str = "l1") -> None:
        super().__init__(options, distance)
        self.discriminator: Discriminator | None = None
        self.widths: tuple[int, ...] = ()

    def make_discriminator(self, model: gs.SwapAutoencoder, widths: Sequence[int],
                           **heads: Any) -> Discriminator:
        """The discriminator for *model*'s images, with *heads* (``condition``, ``classes``)."""
        self.widths = tuple(widths)
        width = self.config.width  # type: ignore[attr-defined]
        self.discriminator = Discriminator(model.image_shape, width=width, **heads)
        return self.discriminator

    def built_discriminator(self) -> Discriminator:
        """The discriminator; an error where :meth:`build` has not made it yet."""
        if self.discriminator is None:
            raise gs.ConfigError(f"loss term {self.name!r} has no discriminator yet: call "
                                 "recipe.build(model) first")
        return self.discriminator

    def adversarial(self, real: tuple[torch.Tensor, ...], fake: tuple[torch.Tensor, ...]
                    ) -> tuple[torch.Tensor, torch.Tensor, Any, Any]:
        """``(L_D, L_G, real_heads, fake_heads)`` of one step. *real* and *fake* are the
        discriminator's inputs (images first, then any condition): L_D teaches it real from
        fake (the fake images detached), L_G teaches the generator to fool it (frozen);
        the heads are its other outputs on the real images and on the fake ones (frozen)."""
        discriminator = self.built_discriminator()
        real_logits, real_heads = discriminator(*real)
        fake_logits, _ = discriminator(fake[0].detach(), *fake[1:])
        fooled, fake_heads = frozen(discriminator, *fake)
        return (discriminator_loss(real_logits, fake_logits), generator_loss(fooled), real_heads,
                fake_heads)
