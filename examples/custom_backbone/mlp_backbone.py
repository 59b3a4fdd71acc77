"""A custom backbone as a local plugin: a two-layer MLP encoder/decoder.

    GROUPSUP_PLUGINS=examples/custom_backbone/mlp_backbone.py groupsup plugins
    GROUPSUP_PLUGINS=examples/custom_backbone/mlp_backbone.py \
        groupsup train examples/fonts/demo.toml --set model.backbone=mlp --set model.options={}

For an installable plugin, put this module in a package and name it in the package's
pyproject.toml: ``[project.entry-points.groupsup] my_backbones = "my_package.mlp_backbone"``.
"""

from __future__ import annotations

import math

import torch
from pydantic import Field
from torch import nn

import groupsup as gs


class MLPConfig(gs.BackboneConfig):
    hidden: int = Field(512, gt=0, description="width of the hidden layer")


class MLPBackbone(gs.Backbone):
    """Flattened image -> hidden -> z, and back; tanh output in [-1, 1]."""

    Config = MLPConfig

    def __init__(self, image_shape, latent_size, config=None):
        super().__init__(image_shape, latent_size, config)
        pixels = math.prod(self.image_shape)
        hidden = self.config.hidden
        self.output = "tanh"
        self.encoder = nn.Sequential(nn.Flatten(), nn.Linear(pixels, hidden), nn.ReLU(),
                                     nn.Linear(hidden, latent_size))
        self.decoder = nn.Sequential(nn.Linear(latent_size, hidden), nn.ReLU(),
                                     nn.Linear(hidden, pixels), nn.Tanh())

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        return self.encoder(x)

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        return self.decoder(z).view(-1, *self.image_shape)


@gs.hookimpl
def register_backbones(register):
    register("mlp", MLPBackbone, description="two-layer MLP (example plugin)")
