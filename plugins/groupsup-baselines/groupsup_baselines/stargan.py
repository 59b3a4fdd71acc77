"""StarGAN (Choi et al., 2018, "StarGAN: Unified Generative Adversarial Networks for
Multi-Domain Image-to-Image Translation") at CPU scale.

A conditional generator ``G(x, c)`` turns a source image ``x`` into one showing the target
labels ``c`` (one-hot per attribute, tiled into constant channels beside the image, as in the
paper). A discriminator with an adversarial head and an auxiliary classifier head per
attribute (owned by the loss term) tells real from generated images and classifies real ones;
the generator is trained to fool it, to be classified as ``c``, and to give the source back
when translated back to the source's labels (the cycle reconstruction). The paper's weights:
``lambda_cls = 1``, ``lambda_rec = 10``; targets are the labels of other images of the step
(the paper shuffles the batch's labels), so training never asks for a held-out combination.

The ``stargan`` backbone as a groupsup backbone: its code is ``[c ; x]``, one block per
attribute holding the target label's one-hot vector (the schema's ``latent`` widths: at least
the attributes' cardinalities, zero-padded beyond) and an unlabelled block holding the source
image's pixels (the schema's ``free`` = C x H x W; name it e.g. ``source``).
:meth:`StarGAN.decode` is ``G(x, c)``. An image alone carries no target labels, so
:meth:`StarGAN.encode` leaves the label blocks at zero; evaluation gives them the examples'
true labels through :class:`TrueLabels`, a model adapter that knows the dataset. Then zero-shot
synthesis takes each attribute's one-hot label from its provider (a training image showing the
target's value: the held-out combination's labels, exactly) and the source image from the base
the evaluation draws, and a swap of block j is a change of target label j (the leakage matrix
reads what else changes). A code-based measure of the latent (co-prediction, MIG, DCI, ...)
does not apply: the label blocks are the labels themselves. ``groupsup compare`` reports those
as not applicable. Without the adapter (``groupsup evaluate``, the trainer's sample sheets)
the label blocks stay zero.

What differs from the paper: the non-saturating GAN loss with one discriminator step per
generator step, where the paper has WGAN-GP and five critic steps
(:mod:`groupsup_baselines.adversarial`); a generator of two down- and two up-sampling stages
and ``blocks`` residual blocks (the paper: six) at ``width`` channels; one dataset (the paper
trains on several with a mask vector).
"""

from __future__ import annotations

import hashlib
import logging
import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from pydantic import Field
from torch import nn

import groupsup as gs
from groupsup_baselines.adversarial import (
    Discriminator,
    DiscriminatorTerm,
    one_hot_labels,
)

log = logging.getLogger(__name__)


class StarGANConfig(gs.BackboneConfig):
    """Options of ``stargan``."""

    width: int = Field(32, gt=0, description="channels of the generator's outer stages")
    blocks: int = Field(2, ge=0, description="residual blocks at the bottleneck")


class ResidualBlock(nn.Module):
    """conv3x3-IN-ReLU-conv3x3-IN plus identity, ``(B, C, H, W)`` -> same shape."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.body = nn.Sequential(
            nn.Conv2d(channels, channels, 3, padding=1, bias=False),
            nn.InstanceNorm2d(channels, affine=True), nn.ReLU(),
            nn.Conv2d(channels, channels, 3, padding=1, bias=False),
            nn.InstanceNorm2d(channels, affine=True))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.body(x)


class StarGAN(gs.Backbone):
    """The generator ``G(x, c)``; code ``[c ; x]`` of width ``L + C H W`` (L: the label
    blocks' total width). Images of a side divisible by 4."""

    Config = StarGANConfig

    def __init__(self, image_shape: tuple[int, int, int], latent_size: int,
                 config: StarGANConfig | Mapping[str, Any] | None = None) -> None:
        super().__init__(image_shape, latent_size, config)
        cfg: StarGANConfig = self.config  # type: ignore[assignment]
        channels = self.image_shape[0]
        self.pixels = math.prod(self.image_shape)
        self.labels = latent_size - self.pixels
        if self.labels <= 0:
            raise gs.ConfigError(
                f"stargan: the code holds the one-hot target labels, then the source image "
                f"(C*H*W = {self.pixels}); a code of {latent_size} leaves no room for labels: "
                f"set schema.latent to the attributes' cardinalities and schema.free = "
                f"{self.pixels}")
        w = cfg.width
        layers: list[nn.Module] = [nn.Conv2d(channels + self.labels, w, 7, padding=3,
                                             bias=False),
                                   nn.InstanceNorm2d(w, affine=True), nn.ReLU()]
        for i in range(2):
            layers += [nn.Conv2d(w * 2 ** i, w * 2 ** (i + 1), 4, stride=2, padding=1,
                                 bias=False),
                       nn.InstanceNorm2d(w * 2 ** (i + 1), affine=True), nn.ReLU()]
        layers += [ResidualBlock(4 * w) for _ in range(cfg.blocks)]
        for i in (2, 1):
            layers += [nn.ConvTranspose2d(w * 2 ** i, w * 2 ** (i - 1), 4, stride=2, padding=1,
                                          bias=False),
                       nn.InstanceNorm2d(w * 2 ** (i - 1), affine=True), nn.ReLU()]
        layers += [nn.Conv2d(w, channels, 7, padding=3), nn.Tanh()]
        self.generator = nn.Sequential(*layers)

    def check_image_shape(self, image_shape: tuple[int, int, int]) -> None:
        if image_shape[1] % 4 or image_shape[2] % 4:
            raise gs.ConfigError(f"stargan: image sides must be divisible by 4, got "
                                 f"{image_shape[1:]}")

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        """``(B, C, H, W)`` -> ``(B, L + C H W)``: zero label blocks (an image names no
        target), then the pixels."""
        self.check_input(x)
        return torch.cat([x.new_zeros(len(x), self.labels), x.flatten(1)], dim=1)

    def translate(self, x: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        """``G(x, c)``: images ``(B, C, H, W)`` and label vectors ``(B, L)`` -> images."""
        maps = labels[:, :, None, None].expand(-1, -1, *x.shape[2:]).to(x.dtype)
        return self.generator(torch.cat([x, maps], dim=1))

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        """``(B, L + C H W)`` -> ``G(x, c)`` ``(B, C, H, W)``."""
        self.check_code(z)
        labels, pixels = z.split([self.labels, self.pixels], dim=1)
        return self.translate(pixels.reshape(-1, *self.image_shape), labels)


def check_layout(model: gs.SwapAutoencoder, term: str) -> tuple[int, ...]:
    """The label blocks' widths, after checking that the model's code is StarGAN's: one block
    per attribute at least as wide as its cardinality (the one-hot vector, zero-padded), then
    the source image."""
    if not isinstance(model.backbone, StarGAN):
        raise gs.ConfigError(f"{term} needs the 'stargan' backbone; this model's is "
                             f"{type(model.backbone).__name__}")
    cardinalities = tuple(model.schema.cardinalities)
    partition = model.partition
    widths = tuple(partition.sizes[:len(partition.labelled)])
    if any(w < k for w, k in zip(widths, cardinalities)) or partition.free is None:
        wanted, got = (dict(zip(partition.labelled, v)) for v in (cardinalities, widths))
        raise gs.ConfigError(
            f"{term}: StarGAN's code is one one-hot block per attribute, then the source "
            f"image; schema.latent must give each attribute at least its cardinality "
            f"{wanted} (got {got}) and schema.free = {model.backbone.pixels}")
    return widths


class StarGANLossConfig(gs.TermConfig):
    """Options of ``stargan``."""

    lambda_cls: float = Field(1.0, ge=0, description="weight of the attribute classification")
    lambda_rec: float = Field(10.0, ge=0, description="weight of the cycle reconstruction")
    width: int = Field(32, gt=0, description="the discriminator's first channel count")


class StarGANLoss(DiscriminatorTerm):
    """StarGAN's objective: adversarial + lambda_cls classification (discriminator on real
    images, generator on translated ones) + lambda_rec cycle reconstruction; value L_D + L_G."""

    name = "stargan"
    Config = StarGANLossConfig

    def build(self, model: gs.SwapAutoencoder) -> Discriminator:
        """The discriminator: an adversarial head and one classifier head per attribute."""
        widths = check_layout(model, f"loss term {self.name!r}")
        return self.make_discriminator(model, widths, classes=model.schema.cardinalities)

    def classification(self, logits: list[torch.Tensor], labels: torch.Tensor) -> torch.Tensor:
        return torch.stack([F.cross_entropy(lg, labels[:, j]) for j, lg in enumerate(logits)]
                           ).mean()

    def run(self, step: gs.StepContext):
        self.built_discriminator()  # before any decode
        cfg: StarGANLossConfig = self.config  # type: ignore[assignment]
        x, labels = step.images, step.labels
        target = labels[torch.randperm(len(labels), device=labels.device)]
        own, wanted = (one_hot_labels(v, self.widths) for v in (labels, target))
        raw = yield gs.Decode(torch.cat([wanted, x.flatten(1)], dim=1))
        fake = step.to_image(raw)
        back = yield gs.Decode(torch.cat([own, fake.flatten(1)], dim=1))
        cycle = self.compare(step, back, x)
        d_adversarial, g_adversarial, real_classes, fake_classes = self.adversarial((x,), (fake,))
        d_loss = d_adversarial + cfg.lambda_cls * self.classification(real_classes, labels)
        g_loss = (g_adversarial + cfg.lambda_cls * self.classification(fake_classes, target)
                  + cfg.lambda_rec * cycle)
        return d_loss + g_loss


@dataclass(frozen=True)
class TrueLabels:
    """A model adapter (``evaluate_run(..., adapt=TrueLabels())``) for a StarGAN model: the
    evaluated model encodes an image of the dataset's training split as ``[one-hot labels of
    that example ; its pixels]``, so every label block holds the provider's true value.

    The evaluation encodes only training images (providers, bases, reconstructions); each is
    found by its pixels among the training images (a digest of their bytes). An image that is
    not among them is an error; images that coincide pixel for pixel but differ in label take
    the first one's labels, and a logged warning counts them.
    """

    def __call__(self, model: gs.SwapAutoencoder, dataset: gs.GroupDataset,
                 train: np.ndarray) -> gs.SwapAutoencoder:
        widths = check_layout(model, "TrueLabels")
        table: dict[bytes, int] = {}
        clashes = 0
        train = np.asarray(train, dtype=np.int64)
        for i in range(0, len(train), 512):
            ids = train[i:i + 512]
            for row, image in zip(ids, dataset.load(ids)):
                key = digest(image)
                if key in table and not np.array_equal(dataset.labels[table[key]],
                                                       dataset.labels[row]):
                    clashes += 1
                table.setdefault(key, int(row))
        if clashes:
            log.warning("StarGAN evaluation: %d training images coincide pixel for pixel with "
                        "another of different labels; each takes the first one's labels",
                        clashes)
        backbone = LabelledSources(model.backbone, table, dataset.labels, widths, clashes)
        device = next(model.parameters()).device
        return gs.SwapAutoencoder(backbone, model.schema, model.image_shape,
                                  registries=model.registries).to(device).eval()


def digest(image: torch.Tensor) -> bytes:
    """A 16-byte digest of an image tensor's values (float32, CPU)."""
    data = image.detach().to("cpu", torch.float32).contiguous().numpy().tobytes()
    return hashlib.blake2b(data, digest_size=16).digest()


class LabelledSources(gs.Backbone):
    """A StarGAN generator whose encoder looks the image's labels up (:class:`TrueLabels`).

    Not registered: a run-time view used for evaluation, never saved.
    """

    def __init__(self, inner: StarGAN, table: dict[bytes, int], labels: np.ndarray,
                 widths: tuple[int, ...], clashes: int) -> None:
        super().__init__(inner.image_shape, inner.latent_size)
        self.inner = inner
        self.output = inner.output
        self.table, self.all_labels = table, labels
        self.widths, self.clashes = widths, clashes

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        """``(B, C, H, W)`` training images -> ``[one-hot labels ; pixels]``."""
        self.check_input(x)
        rows = []
        for image in x:
            row = self.table.get(digest(image))
            if row is None:
                raise gs.DataError("StarGAN's evaluation view reads the labels of training "
                                   "images only; this image is not one of the training split")
            rows.append(row)
        labels = torch.as_tensor(self.all_labels[rows], dtype=torch.int64, device=x.device)
        return torch.cat([one_hot_labels(labels, self.widths).to(x.dtype),
                          x.flatten(1)], dim=1)

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        return self.inner.decode(z)

    def extra_repr(self) -> str:
        return f"training images {len(self.table)}, label clashes {self.clashes}"
