"""groupsup-gzsnet: the GZS-Net reference backbone and loss recipes as a groupsup plugin.

The entry point (group ``groupsup``) is :mod:`groupsup_gzsnet.plugin`; it registers the
``gzsnet`` backbone and the recipes ``gzsnet-reference``, ``gzsnet-paper`` and
``gzsnet-dsprites``. Uses only groupsup's public API.
"""

from groupsup_gzsnet.backbone import GZSNet, GZSNetConfig
from groupsup_gzsnet.plugin import RECIPES

__version__ = "0.1.0"

__all__ = ["RECIPES", "GZSNet", "GZSNetConfig", "__version__"]
