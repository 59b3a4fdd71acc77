"""``gzsnet``: the GZS-Net reference network ("Generator_fc"), generic in image size.

Written from the paper's description (docs/method.md §3). At ``3x128x128`` with z = 100 and the
defaults it has the reference's layer sizes and 142.95 M parameters:

- encoder: conv 7x7 (C -> w), four conv 4x4 stride 2 (w -> 2w -> 4w -> 4w -> 4w), so the
  bottleneck is ``4w x H/16 x W/16``; ``res_blocks`` residual blocks; flatten -> Linear
  ``fc_width`` -> ReLU -> Linear z (no activation);
- decoder: Linear z -> ``fc_width`` -> ReLU -> Linear to the bottleneck, the residual blocks,
  four transposed conv 4x4 stride 2 back to w channels, conv 7x7 (w -> C), then Tanh (or
  nothing for ``output="logits"``).

Every convolution is bias-free; all but the last are followed by instance normalisation
(affine) and ReLU. The reference never switches to eval mode, so it normalises with each
image's own statistics at inference too; ``instance_stats_at_eval=True`` (the default) keeps
that behaviour in eval mode as well, while ``False`` tracks running statistics in training
(``InstanceNorm2d(track_running_stats=True)``) and uses them in eval mode. Without running
statistics the normalisation is computed as ``GroupNorm(C, C)``: the same function as
``InstanceNorm2d(C, affine=True)``, with the same parameter names and a CPU kernel about
twice as fast.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Mapping
from typing import Any, Literal

import torch
from pydantic import Field
from torch import nn

import groupsup as gs

DOWNSAMPLES = 4  # the bottleneck is image / 16


class GZSNetConfig(gs.BackboneConfig):
    """Options of ``gzsnet``; the defaults are the reference network."""

    width: int = Field(64, gt=0, description="channels after the 7x7 stem (bottleneck: 4x)")
    fc_width: int = Field(4096, gt=0, description="hidden width of the fully connected pairs")
    res_blocks: int = Field(1, ge=0, description="residual blocks at the bottleneck")
    output: Literal["tanh", "logits"] = Field("tanh", description="decoder output")
    instance_stats_at_eval: bool = Field(
        True, description="normalise with per-image statistics in eval mode too (reference)")


class ResidualBlock(nn.Module):
    """``x + IN(conv3x3(ReLU(IN(conv3x3(x)))))`` at constant shape ``(B, C, h, w)``."""

    def __init__(self, channels: int, norm: Any) -> None:
        super().__init__()
        self.body = nn.Sequential(
            nn.Conv2d(channels, channels, 3, padding=1, bias=False), norm(channels),
            nn.ReLU(inplace=True),
            nn.Conv2d(channels, channels, 3, padding=1, bias=False), norm(channels))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.body(x)


class GZSNet(gs.Backbone):
    """The reference encoder/decoder; image sides must be multiples of 16, at least 32."""

    Config = GZSNetConfig

    def __init__(self, image_shape: tuple[int, int, int], latent_size: int,
                 config: GZSNetConfig | Mapping[str, Any] | None = None) -> None:
        super().__init__(image_shape, latent_size, config)
        cfg: GZSNetConfig = self.config  # type: ignore[assignment]
        self.output = cfg.output
        channels, height, width = self.image_shape
        widths = [min(cfg.width * 2**i, 4 * cfg.width) for i in range(DOWNSAMPLES + 1)]
        self._inner = (widths[-1], height >> DOWNSAMPLES, width >> DOWNSAMPLES)
        def norm(c: int) -> nn.Module:
            if cfg.instance_stats_at_eval:
                return nn.GroupNorm(c, c)
            return nn.InstanceNorm2d(c, affine=True, track_running_stats=True)

        def block(conv: nn.Module, c: int) -> list[nn.Module]:
            return [conv, norm(c), nn.ReLU(inplace=True)]

        down = block(nn.Conv2d(channels, widths[0], 7, padding=3, bias=False), widths[0])
        for c_in, c_out in itertools.pairwise(widths):
            down += block(nn.Conv2d(c_in, c_out, 4, stride=2, padding=1, bias=False), c_out)
        down += [ResidualBlock(widths[-1], norm) for _ in range(cfg.res_blocks)]
        flat = math.prod(self._inner)
        self.encoder = nn.Sequential(
            *down, nn.Flatten(), nn.Linear(flat, cfg.fc_width), nn.ReLU(inplace=True),
            nn.Linear(cfg.fc_width, latent_size))

        self.project = nn.Sequential(
            nn.Linear(latent_size, cfg.fc_width), nn.ReLU(inplace=True),
            nn.Linear(cfg.fc_width, flat))
        up: list[nn.Module] = [ResidualBlock(widths[-1], norm) for _ in range(cfg.res_blocks)]
        for c_in, c_out in itertools.pairwise(widths[::-1]):
            up += block(nn.ConvTranspose2d(c_in, c_out, 4, stride=2, padding=1, bias=False),
                        c_out)
        up.append(nn.Conv2d(widths[0], channels, 7, padding=3, bias=False))
        if self.output == "tanh":
            up.append(nn.Tanh())
        self.decoder = nn.Sequential(*up)

    def check_image_shape(self, image_shape: tuple[int, int, int]) -> None:
        channels, height, width = image_shape
        if channels not in (1, 3):
            raise gs.ConfigError(f"gzsnet takes 1 or 3 image channels, got {channels} "
                                 f"(image_shape {image_shape})")
        for side, name in ((height, "height"), (width, "width")):
            if side < 32 or side % 16:
                raise gs.ConfigError(
                    f"gzsnet needs image sides that are multiples of 16 and at least 32 (the "
                    f"bottleneck is image/16); {name} is {side} (image_shape {image_shape})")

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        """``(B, C, H, W)`` in ``[-1, 1]`` -> ``(B, Z)``."""
        self.check_input(x)
        return self.encoder(x)

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        """``(B, Z)`` -> ``(B, C, H, W)``: tanh images or logits."""
        self.check_code(z)
        return self.decoder(self.project(z).unflatten(1, self._inner))
