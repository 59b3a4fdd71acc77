"""The hook implementations: one backbone and three recipes."""

from __future__ import annotations

from typing import Any

import groupsup as gs
from groupsup_gzsnet.backbone import GZSNet

# The reference code's objective: self, one-overlap swap and cover reconstruction, L1, all
# weighted 1 (latent consistency exists there with weight 0, so it is left out), summed as one
# mean per decode: reduction "per-decode" (docs/method.md, section 4, "loss scaling").
_REFERENCE: list[dict[str, Any]] = [
    {"term": "recon", "weight": 1.0, "distance": "l1"},
    {"term": "swap", "weight": 1.0, "distance": "l1"},
    {"term": "cover", "weight": 1.0, "distance": "l1"},
]

RECIPES: dict[str, tuple[list[dict[str, Any]] | dict[str, Any], str]] = {
    "gzsnet-reference": (
        {"terms": _REFERENCE, "reduction": "per-decode"},
        "GZS-Net reference code: recon + swap + cover, L1, one mean per decode summed "
        "(6 : 10 : 1 on Fonts groups, 4 : 6 : 1 on iLab/RaFD)"),
    "gzsnet-paper": (
        [*_REFERENCE, {"term": "cycle", "weight": 1.0, "distance": "l1"}],
        "GZS-Net paper: recon + swap + cover + cycle swap on no-overlap pairs, L1, weight 1 "
        "on each term's mean"),
    "gzsnet-dsprites": (
        {"terms": [{**spec, "distance": "bce"} for spec in _REFERENCE],
         "reduction": "per-decode"},
        "GZS-Net on dSprites: recon + swap + cover with Bernoulli (BCE-with-logits) distance, "
        "one mean per decode summed"),
}


@gs.hookimpl
def register_backbones(register: Any) -> None:
    register("gzsnet", GZSNet, description="GZS-Net reference encoder/decoder (142.95 M "
             "parameters at 3x128x128, z=100); any side multiple of 16")


@gs.hookimpl
def register_recipes(register: Any) -> None:
    for name, (specs, description) in RECIPES.items():
        register(name, specs, description=description)
