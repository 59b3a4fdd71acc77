"""Backbones: encoder/decoder pairs registered by name through ``register_backbones``."""

from groupsup.backbones.base import Backbone, BackboneConfig
from groupsup.backbones.conv_small import ConvSmall, ConvSmallConfig

__all__ = ["Backbone", "BackboneConfig", "ConvSmall", "ConvSmallConfig"]
