"""``conv-small``: a CPU-sized convolutional backbone for 8 to 128 px images (tests, demos).

Encoder: stride-2 4x4 convolutions straight from the image down to a 4x4 map (two at 16 px,
three at 32 px, four at 64 px), doubling the channels from ``width`` up to ``max_width``,
then one linear layer to z. The decoder mirrors it: a linear layer to the 4x4 map, then
stride-2 4x4 transposed convolutions, the last one producing the image. About 1.2 M
parameters at 3x32x32 with z = 100 and the defaults, 1.7 M at 64 px.

Shaped for CPU throughput: there is no full-resolution layer with few channels (those run at
a third of the matmul peak on CPU), so nearly all FLOPs fall in 64- and 128-channel layers.
Instance normalisation is on by default: without it, the decoder's ReLUs of a narrow network
can all die in the first Adam steps on sparse images (dark background), after which it
outputs the mean image whatever the code. It is computed as ``GroupNorm(C, C)``, the same
function as ``InstanceNorm2d(C, affine=True)`` with a faster CPU kernel.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Mapping
from typing import Any, Literal

import torch
from pydantic import Field
from torch import nn

from groupsup.backbones.base import Backbone, BackboneConfig
from groupsup.errors import ConfigError

BOTTLENECK = 4  # spatial side of the innermost feature map


class ConvSmallConfig(BackboneConfig):
    """Options of ``conv-small``."""

    width: int = Field(64, gt=0, description="channels of the first (outermost) feature map")
    max_width: int = Field(128, gt=0, description="channel cap of the inner feature maps")
    norm: Literal["instance", "batch", "pixel", "none"] = Field(
        "instance", description="normalisation after each hidden convolution: 'instance' "
        "(per-image, per-channel statistics with an affine map, training and inference "
        "alike), 'batch' (BatchNorm2d: batch statistics in training, running ones in "
        "inference), 'pixel' (each pixel's feature vector scaled to unit mean square: no "
        "statistics over positions or images) or 'none'")
    decoder_norm: Literal["instance", "batch", "pixel", "none"] | None = Field(
        None, description="the decoder's normalisation when it differs from the encoder's "
        "(None: `norm`)")
    activation: Literal["relu", "leaky_relu"] = Field(
        "relu", description="hidden activation; 'leaky_relu' (slope 0.2) cannot die")
    output: Literal["tanh", "logits"] = Field("tanh", description="decoder output")
    modulation: bool = Field(
        False, description="the code also scales and shifts every channel of each decoder "
        "layer and of the output (FiLM: a linear map of z per layer, starting at the "
        "identity), besides entering through the first layer: a colour or a lighting, which "
        "acts on every pixel alike, then combines with any shape, also in combinations "
        "training never showed")


class PixelNorm(nn.Module):
    """Scales each pixel's feature vector to unit mean square (ProGAN's pixelwise feature
    normalisation): ``(B, C, H, W)`` -> same shape, no statistic over positions or images."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * torch.rsqrt(x.pow(2).mean(dim=1, keepdim=True) + 1e-8)


def _norm(kind: str, channels: int) -> nn.Module:
    # GroupNorm with one channel per group is InstanceNorm2d(affine=True) without running
    # statistics, and its CPU kernel is about twice as fast.
    if kind == "instance":
        return nn.GroupNorm(channels, channels)
    if kind == "pixel":
        return PixelNorm()
    return nn.BatchNorm2d(channels) if kind == "batch" else nn.Identity()


def _activation(kind: str) -> nn.Module:
    return nn.LeakyReLU(0.2, inplace=True) if kind == "leaky_relu" else nn.ReLU(inplace=True)


class ConvSmall(Backbone):
    """Small conv encoder/decoder; sides must be powers of two from 8 to 128."""

    Config = ConvSmallConfig

    def __init__(self, image_shape: tuple[int, int, int], latent_size: int,
                 config: ConvSmallConfig | Mapping[str, Any] | None = None) -> None:
        super().__init__(image_shape, latent_size, config)
        cfg: ConvSmallConfig = self.config  # type: ignore[assignment]
        self.output = cfg.output
        channels, height, width = self.image_shape
        stages = (min(height, width) // BOTTLENECK).bit_length() - 1
        widths = [min(cfg.width * 2**i, max(cfg.max_width, cfg.width)) for i in range(stages)]
        self._inner = (widths[-1], height >> stages, width >> stages)
        decoder_norm = cfg.norm if cfg.decoder_norm is None else cfg.decoder_norm

        down: list[nn.Module] = []
        for c_in, c_out in itertools.pairwise([channels, *widths]):
            down += [nn.Conv2d(c_in, c_out, 4, stride=2, padding=1,
                               bias=cfg.norm in ("none", "pixel")),
                     _norm(cfg.norm, c_out), _activation(cfg.activation)]
        self.encoder = nn.Sequential(*down, nn.Flatten(),
                                     nn.Linear(math.prod(self._inner), latent_size))

        self.project = nn.Sequential(nn.Linear(latent_size, math.prod(self._inner)),
                                     _activation(cfg.activation))
        up: list[nn.Module] = []
        for c_in, c_out in itertools.pairwise(widths[::-1]):
            up += [nn.ConvTranspose2d(c_in, c_out, 4, stride=2, padding=1,
                                      bias=decoder_norm in ("none", "pixel")),
                   _norm(decoder_norm, c_out), _activation(cfg.activation)]
        up.append(nn.ConvTranspose2d(widths[0], channels, 4, stride=2, padding=1))
        if self.output == "tanh":
            up.append(nn.Tanh())
        self.decoder = nn.Sequential(*up)
        # FiLM after each hidden normalisation and after the output convolution
        last = 3 * (len(widths) - 1)  # the output convolution's index in `up`
        self._modulated = [*range(1, last, 3), last] if cfg.modulation else []
        # their channels: each hidden layer's output (the widths inward out), then the image's
        self.modulations = nn.ModuleList(
            FiLM(latent_size, c) for c in [*widths[-2::-1], channels]
        ) if cfg.modulation else None

    def check_image_shape(self, image_shape: tuple[int, int, int]) -> None:
        _, height, width = image_shape
        for side, name in ((height, "height"), (width, "width")):
            if side < 8 or side > 128 or side & (side - 1):
                raise ConfigError(f"conv-small needs image sides that are powers of two from 8 "
                                  f"to 128; {name} is {side} (image_shape {image_shape})")

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        """``(B, C, H, W)`` -> ``(B, Z)``."""
        self.check_input(x)
        return self.encoder(x)

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        """``(B, Z)`` -> ``(B, C, H, W)``."""
        self.check_code(z)
        h = self.project(z).unflatten(1, self._inner)
        if self.modulations is None:
            return self.decoder(h)
        films = dict(zip(self._modulated, self.modulations))
        for i, layer in enumerate(self.decoder):
            h = layer(h)
            if i in films:
                h = films[i](h, z)
        return h


class FiLM(nn.Module):
    """Feature-wise linear modulation (Perez et al. 2018): ``h * (1 + g(z)) + b(z)`` per
    channel, ``g`` and ``b`` one linear map of the code, zero at initialisation (identity)."""

    def __init__(self, latent_size: int, channels: int) -> None:
        super().__init__()
        self.affine = nn.Linear(latent_size, 2 * channels)
        nn.init.zeros_(self.affine.weight)
        nn.init.zeros_(self.affine.bias)

    def forward(self, h: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        scale, shift = self.affine(z)[:, :, None, None].chunk(2, dim=1)
        return h * (1 + scale) + shift

