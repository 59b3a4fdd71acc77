"""Registers the core backbones through the same hook third-party plugins implement."""

from __future__ import annotations

from groupsup.backbones.conv_small import ConvSmall
from groupsup.hookspecs import Register, hookimpl


@hookimpl
def register_backbones(register: Register) -> None:
    register("conv-small", ConvSmall,
             description="small conv encoder/decoder for 8-128 px images (CPU tests and demos)")
