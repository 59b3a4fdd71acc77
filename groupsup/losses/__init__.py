"""Loss terms, distances and recipes of group-supervised learning."""

from groupsup.losses.base import Decode, Encode, LossTerm, StepContext, TermConfig
from groupsup.losses.distances import code_distance, image_distance
from groupsup.losses.recipe import LossOutput, LossRecipe, LossSpec
from groupsup.losses.terms import Cover, Cycle, Invariance, Latent, Recon, Swap

__all__ = [
    "Cover",
    "Cycle",
    "Decode",
    "Encode",
    "Invariance",
    "Latent",
    "LossOutput",
    "LossRecipe",
    "LossSpec",
    "LossTerm",
    "Recon",
    "StepContext",
    "Swap",
    "TermConfig",
    "code_distance",
    "image_distance",
]
