"""Registers the core loss terms and the ``gsl`` recipe through the plugin hooks."""

from __future__ import annotations

from groupsup.hookspecs import Register, hookimpl
from groupsup.losses.terms import BUILTIN_TERMS


@hookimpl
def register_losses(register: Register) -> None:
    for term in BUILTIN_TERMS:
        register(term.name, term, description=(term.__doc__ or "").split("\n")[0].rstrip(":"))


@hookimpl
def register_recipes(register: Register) -> None:
    register("gsl", ["recon", "swap", "cover"],
             description="group-supervised learning: self, one-overlap swap and cover "
                         "reconstruction, L1, weight 1")
