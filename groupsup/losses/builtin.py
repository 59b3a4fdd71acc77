"""Registers the core loss terms, the ``gsl`` recipe and its ablations through the plugin hooks."""

from __future__ import annotations

from groupsup.hookspecs import Register, hookimpl
from groupsup.losses.terms import BUILTIN_TERMS


@hookimpl
def register_losses(register: Register) -> None:
    for term in BUILTIN_TERMS:
        register(term.name, term, description=(term.__doc__ or "").split("\n")[0].rstrip(":"))


# name -> (terms, description): GSL, its ablations (docs/method.md §4) and gsl-invariance, all L1
# by default and weight 1, so that a comparison changes one thing at a time.
RECIPES: dict[str, tuple[list[str], str]] = {
    "gsl": (["recon", "swap", "cover"], "group-supervised learning: self, one-overlap swap and "
            "cover reconstruction, L1, weight 1"),
    "gsl-invariance": (["recon", "swap", "cover", "invariance"], "gsl plus the invariance term "
                       "(weight 1): each block may vary only with its own attribute; the CPU "
                       "demo's recipe (docs/model.md)"),
    "gsl-paper": (["recon", "swap", "cover", "cycle"], "the paper's objective: gsl plus the "
                  "cycle swap on no-overlap pairs (the strategy must sample cycle_pairs)"),
    "gsl-paper-no-cycle": (["recon", "swap", "cover"], "ablation of gsl-paper without the cycle "
                           "swap (the same terms as gsl)"),
    "gsl-no-swap": (["recon", "cover"], "ablation of gsl without the one-overlap swap"),
    "gsl-no-cover": (["recon", "swap"], "ablation of gsl without the cover reconstruction"),
}


@hookimpl
def register_recipes(register: Register) -> None:
    for name, (terms, description) in RECIPES.items():
        register(name, terms, description=description)
