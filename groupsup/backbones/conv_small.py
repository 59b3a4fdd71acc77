"""``conv-small``: a CPU-sized convolutional backbone for 8 to 128 px images (tests, demos).

Encoder: a 3x3 stem, then stride-2 4x4 convolutions that halve the image down to 4x4 (two
stages at 16 px, three at 32 px, four at 64 px), doubling the channels up to ``max_width``,
then one linear layer to z. The decoder mirrors it with transposed convolutions. About 1.3 M
parameters at 3x32x32 with z = 100 and the defaults.

Instance normalisation is on by default: without it, the decoder's ReLUs of this narrow
network can all die in the first Adam steps on sparse images (dark background), after which
it outputs the mean image whatever the code.
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

    width: int = Field(32, gt=0, description="channels after the stem")
    max_width: int = Field(128, gt=0, description="channel cap of the downsampling stages")
    norm: Literal["instance", "none"] = Field(
        "instance", description="normalisation after each hidden convolution: affine "
        "InstanceNorm2d (per-image statistics in training and inference), or none")
    output: Literal["tanh", "logits"] = Field("tanh", description="decoder output")


def _norm(kind: str, channels: int) -> nn.Module:
    return nn.InstanceNorm2d(channels, affine=True) if kind == "instance" else nn.Identity()


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
        widths = [min(cfg.width * 2**i, max(cfg.max_width, cfg.width)) for i in range(stages + 1)]
        self._inner = (widths[-1], height >> stages, width >> stages)
        bias = cfg.norm == "none"

        down: list[nn.Module] = [nn.Conv2d(channels, widths[0], 3, padding=1, bias=bias),
                                 _norm(cfg.norm, widths[0]), nn.ReLU(inplace=True)]
        for c_in, c_out in itertools.pairwise(widths):
            down += [nn.Conv2d(c_in, c_out, 4, stride=2, padding=1, bias=bias),
                     _norm(cfg.norm, c_out), nn.ReLU(inplace=True)]
        self.encoder = nn.Sequential(*down, nn.Flatten(),
                                     nn.Linear(math.prod(self._inner), latent_size))

        self.project = nn.Sequential(nn.Linear(latent_size, math.prod(self._inner)),
                                     nn.ReLU(inplace=True))
        up: list[nn.Module] = []
        for c_in, c_out in itertools.pairwise(widths[::-1]):
            up += [nn.ConvTranspose2d(c_in, c_out, 4, stride=2, padding=1, bias=bias),
                   _norm(cfg.norm, c_out), nn.ReLU(inplace=True)]
        up.append(nn.Conv2d(widths[0], channels, 3, padding=1))
        if self.output == "tanh":
            up.append(nn.Tanh())
        self.decoder = nn.Sequential(*up)

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
        return self.decoder(h)

