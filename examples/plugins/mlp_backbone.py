"""A backbone plugin: a two-layer MLP encoder/decoder.

    GROUPSUP_PLUGINS=examples/plugins/mlp_backbone.py groupsup plugins
    GROUPSUP_PLUGINS=examples/plugins/mlp_backbone.py \
        groupsup train examples/fonts/demo.toml --set model.backbone=mlp --set model.options={}

For an installable plugin, put this module in a package and name it in the package's
pyproject.toml: ``[project.entry-points.groupsup] my_backbones = "my_package.mlp_backbone"``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import torch
from pydantic import Field
from torch import nn

import groupsup as gs

# Above this many pixels the first layer alone would hold (pixels x hidden) weights: refuse
# early, with a message, rather than run out of memory in the middle of building the model.
MAX_PIXELS = 64 * 64 * 3


class MLPConfig(gs.BackboneConfig):
    """``[model] options`` of ``mlp``; unknown keys are errors (inherited ``extra="forbid"``)."""

    hidden: int = Field(512, gt=0, description="width of the hidden layer")


class MLPBackbone(gs.Backbone):
    """Flattened image ``(B, C*H*W)`` -> hidden -> z ``(B, Z)``, and back; tanh output in
    ``[-1, 1]``."""

    Config = MLPConfig

    def __init__(self, image_shape: tuple[int, int, int], latent_size: int,
                 config: MLPConfig | Mapping[str, Any] | None = None) -> None:
        super().__init__(image_shape, latent_size, config)  # validates config and the shapes
        pixels = math.prod(self.image_shape)
        hidden = self.config.hidden
        self.output = "tanh"
        self.encoder = nn.Sequential(nn.Flatten(), nn.Linear(pixels, hidden), nn.ReLU(),
                                     nn.Linear(hidden, latent_size))
        self.decoder = nn.Sequential(nn.Linear(latent_size, hidden), nn.ReLU(),
                                     nn.Linear(hidden, pixels), nn.Tanh())

    def check_image_shape(self, image_shape: tuple[int, int, int]) -> None:
        if math.prod(image_shape) > MAX_PIXELS:
            raise gs.ConfigError(f"mlp backbone: images {image_shape} have more than "
                                 f"{MAX_PIXELS} values; use a convolutional backbone")

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        """``(B, C, H, W)`` in ``[-1, 1]`` -> ``(B, Z)``."""
        return self.encoder(x)

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        """``(B, Z)`` -> ``(B, C, H, W)`` in ``[-1, 1]``."""
        return self.decoder(z).view(-1, *self.image_shape)


@gs.hookimpl
def register_backbones(register) -> None:
    register("mlp", MLPBackbone, description="two-layer MLP (example plugin)")
