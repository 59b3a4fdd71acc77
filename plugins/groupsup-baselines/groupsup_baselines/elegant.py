"""ELEGANT (Xiao, Hong, Ma, 2018, "ELEGANT: Exchanging Latent Encodings with GAN for
Transferring Multiple Face Attributes") at CPU scale.

ELEGANT encodes two images, splits each encoding into one part per attribute, exchanges the
part of an attribute on which they differ, and decodes *residual images* that are added to the
inputs: the outputs are ``A + R`` rather than images drawn from scratch. Reconstruction trains
the unexchanged codes to give the inputs back; an attribute-conditioned discriminator trains
the exchanged ones to look like real images with the exchanged labels.

The ``elegant`` backbone: an inner registered backbone (``conv-small`` by default) encodes an
image to ``e (B, E)``, one block per attribute (the schema's ``latent`` widths); the code of
an image is ``[e ; e ; x]``, whose unlabelled block (the schema's ``free``, of width
``E + C x H x W``; name it e.g. ``source``) carries the image the residual is added to and that
image's own encoding. Decoding ``[t ; e_base ; x_base]`` gives
``clamp(x_base + 2 * Dec(lift([t ; e_base])), -1, 1)``: the residual is decoded from the target
code and the base's own code (the base's encoding tells the decoder what it is correcting),
then added to the base. So every tool of groupsup applies unchanged: a swap of block j between
two codes is ELEGANT's exchange (each keeps its own base), and zero-shot synthesis takes every
attribute's block from its provider and adds the residual to the base (the unlabelled block's
provider, a training image drawn by the evaluation).

The ``elegant-adversarial`` term: for each ``swap`` pair (A, B) of the step, one attribute on
which their labels differ is drawn; block i is exchanged (``C``: A's code with B's block i;
``D``: the converse), both are decoded, and the discriminator (owned by the term, conditioned
on the one-hot labels of every attribute) learns real (A and B with their labels) from fake
(C and D with the exchanged labels) while the generator learns to fool it
(:mod:`groupsup_baselines.adversarial`). The recipe ``elegant`` is ``recon`` (``A' = A + R_A``
against A, the paper's reconstruction) + ``elegant-adversarial``.

What differs from the paper: the decoder also reads the base's own encoding (in the paper it
reads the exchanged code only, its residual relative to the image whose unexchanged parts it
carries; here every part may come from another image, so the base must be named); one
discriminator at one scale with the non-saturating loss, where the paper has two scales and
LSGAN; multi-valued attributes (the paper's are binary: it exchanges a part between an image
with the attribute and one without; here between two images with different values); the
network is ``conv-small``, not the paper's.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import torch
from pydantic import Field
from torch import nn

import groupsup as gs
from groupsup_baselines.adversarial import (
    Discriminator,
    DiscriminatorTerm,
    one_hot_labels,
)
from groupsup_baselines.inner import WrapperBackbone


class ElegantConfig(gs.BackboneConfig):
    """Options of ``elegant``."""

    inner: str = Field("conv-small", description="the registered backbone whose encoder and "
                       "decoder ELEGANT uses")
    inner_options: dict[str, Any] = Field(default_factory=dict,
                                          description="the inner backbone's own config")


class Elegant(WrapperBackbone):
    """Code ``[e ; e_base ; x_base]`` of width ``2E + C H W``; decoding adds a residual to the
    base image ``x_base`` (see the module docstring). ``E`` is the attribute blocks' width."""

    Config = ElegantConfig

    def __init__(self, image_shape: tuple[int, int, int], latent_size: int,
                 config: ElegantConfig | Mapping[str, Any] | None = None) -> None:
        super().__init__(image_shape, latent_size, config)
        cfg: ElegantConfig = self.config  # type: ignore[assignment]
        self.pixels = math.prod(self.image_shape)
        encoding, odd = divmod(latent_size - self.pixels, 2)
        if encoding <= 0 or odd:
            raise gs.ConfigError(
                f"elegant: the code holds the attribute blocks (E), then an unlabelled block of "
                f"E + C*H*W = E + {self.pixels} (the base's encoding and pixels); a code of "
                f"{latent_size} does not split so: set schema.free to the sum of the "
                f"schema.latent widths + {self.pixels}")
        if cfg.inner in ("elegant", "stargan"):
            raise gs.ConfigError(f"elegant: inner must be an encoder-decoder backbone, got "
                                 f"{cfg.inner!r}")
        self.encoding = encoding
        self.inner = self.build_inner("elegant", cfg.inner, encoding, cfg.inner_options)
        self.lift = nn.Linear(2 * encoding, encoding)

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        """``(B, C, H, W)`` -> ``(B, 2E + C H W)``: ``[e ; e ; x]``."""
        self.check_input(x)
        e = self.inner.encode(x)
        return torch.cat([e, e, x.flatten(1)], dim=1)

    def residual(self, target: torch.Tensor, base: torch.Tensor) -> torch.Tensor:
        """Residual images ``(B, C, H, W)`` in ``[-2, 2]`` turning the image encoded *base*
        ``(B, E)`` into one encoded *target* ``(B, E)``."""
        return 2 * self.inner.decode(self.lift(torch.cat([target, base], dim=1)))

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        """``(B, 2E + C H W)`` -> ``clamp(x_base + residual, -1, 1)`` ``(B, C, H, W)``."""
        self.check_code(z)
        target, base, pixels = z.split([self.encoding, self.encoding, self.pixels], dim=1)
        image = pixels.reshape(-1, *self.image_shape)
        return (image + self.residual(target, base)).clamp(-1, 1)


def exchanged_attribute(labels_a: torch.Tensor, labels_b: torch.Tensor,
                        generator: torch.Generator | None = None) -> torch.Tensor:
    """Per pair, a random attribute on which the two images' labels differ: ``(E,)`` indices,
    -1 where they agree on every attribute. ``labels_*`` ``(E, A)``."""
    differ = labels_a != labels_b
    draw = torch.rand(differ.shape, generator=generator, device=labels_a.device)
    draw = torch.where(differ, draw, torch.full_like(draw, -1.0))
    return torch.where(differ.any(dim=1), draw.argmax(dim=1), torch.full_like(draw[:, 0], -1,
                                                                              dtype=torch.long))


def exchange(partition: gs.LatentPartition, z_a: torch.Tensor, z_b: torch.Tensor,
             attribute: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """ELEGANT's exchange: row k of the codes swaps attribute ``attribute[k]``'s block and
    nothing else (each code keeps its unlabelled block: its own base). ``(E, Z)`` each."""
    return partition.swap(z_a, z_b, attribute)


class ElegantAdversarialConfig(gs.TermConfig):
    """Options of ``elegant-adversarial``."""

    width: int = Field(32, gt=0, description="the discriminator's first channel count")


class ElegantAdversarial(DiscriminatorTerm):
    """ELEGANT's adversarial term: exchange one differing attribute per ``swap`` pair; an
    attribute-conditioned discriminator tells real from exchanged (value: L_D + L_G)."""

    name = "elegant-adversarial"
    requires = frozenset({"swap"})
    compares = "codes"
    Config = ElegantAdversarialConfig

    def build(self, model: gs.SwapAutoencoder) -> Discriminator:
        """The discriminator, conditioned on the one-hot labels of every attribute."""
        if not isinstance(model.backbone, Elegant):
            raise gs.ConfigError(f"loss term 'elegant-adversarial' needs the 'elegant' backbone; "
                                 f"this model's is {type(model.backbone).__name__}")
        cardinalities = model.schema.cardinalities
        return self.make_discriminator(model, cardinalities, condition=sum(cardinalities))

    def run(self, step: gs.StepContext):
        self.built_discriminator()  # before any decode
        pairs = step.relation("swap")["pairs"]
        labels = step.labels
        a, b = pairs[:, 0], pairs[:, 1]
        attribute = exchanged_attribute(labels[a], labels[b])
        keep = attribute >= 0
        if not bool(keep.any()):
            return step.z.sum() * 0.0   # no pair differs: nothing to exchange this step
        a, b, attribute = a[keep], b[keep], attribute[keep]
        z = step.clean
        c, d = exchange(step.partition, z[a], z[b], attribute)
        raw = yield gs.Decode(torch.cat([c, d]))
        fake = step.to_image(raw)
        rows = torch.arange(len(a), device=labels.device)
        fake_labels = torch.cat([labels[a], labels[b]])
        fake_labels[rows, attribute] = labels[b][rows, attribute]
        fake_labels[len(a) + rows, attribute] = labels[a][rows, attribute]
        real = step.images[torch.cat([a, b])]
        real_labels = one_hot_labels(torch.cat([labels[a], labels[b]]), self.widths)
        condition = one_hot_labels(fake_labels, self.widths)
        d_loss, g_loss, _, _ = self.adversarial((real, real_labels), (fake, condition))
        return d_loss + g_loss
