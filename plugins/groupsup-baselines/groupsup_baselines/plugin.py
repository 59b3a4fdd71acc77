"""The hook implementations: the baselines' loss terms, backbones and recipes, and ``compare``."""

from __future__ import annotations

from typing import Any

import groupsup as gs
from groupsup_baselines.adagvae import AdaGVAEKL, AdaGVAERecon
from groupsup_baselines.compare import COMMAND
from groupsup_baselines.elegant import Elegant, ElegantAdversarial
from groupsup_baselines.mlvae import MLVAEKL, MLVAERecon
from groupsup_baselines.stargan import StarGAN, StarGANLoss
from groupsup_baselines.supervision import BlockClassifier
from groupsup_baselines.tcvae import TCKL
from groupsup_baselines.vae import KL, VAE

RECIPES: dict[str, tuple[list[dict[str, Any]], str]] = {
    "ae-ds": ([{"term": "recon"}, {"term": "block-classifier", "weight": 0.1}],
              "AE+DS baseline: self reconstruction + 0.1 x cross-entropy of a linear "
              "classifier on each latent block for its own attribute"),
    "beta-vae": ([{"term": "recon"}, {"term": "kl", "weight": 0.1}],
                 "beta-VAE baseline (backbone 'vae'): reconstruction + 0.1 x KL per latent "
                 "dimension (about beta = 3 in the per-image-sum convention at 3x32x32, Z=100)"),
    "beta-tcvae": ([{"term": "recon"}, {"term": "tc-kl"}],
                   "beta-TCVAE baseline (backbone 'vae'): reconstruction + alpha MI + beta TC + "
                   "gamma dimension-wise KL (minibatch-weighted sampling; 1, 6, 1), nats per "
                   "image over C x H x W"),
    "ada-gvae": ([{"term": "ada-gvae-recon"}, {"term": "ada-gvae-kl", "weight": 0.1}],
                 "Ada-GVAE baseline (backbone 'vae', a strategy with swap pairs such as 'edge'): "
                 "both images of each pair decoded from their posteriors averaged on the "
                 "dimensions inferred shared + 0.1 x KL of those posteriors"),
    "stargan": ([{"term": "stargan"}],
                "StarGAN baseline (backbone 'stargan'): conditional generator with an "
                "adversarial + auxiliary-classifier discriminator and the cycle reconstruction "
                "(1 x classification, 10 x cycle)"),
    "elegant": ([{"term": "recon"}, {"term": "elegant-adversarial"}],
                "ELEGANT baseline (backbone 'elegant', a strategy with swap pairs): residual "
                "reconstruction + exchange of one differing attribute's block per pair judged "
                "by a label-conditioned discriminator"),
    "ml-vae": ([{"term": "ml-vae-recon"}, {"term": "ml-vae-kl", "weight": 0.1}],
               "ML-VAE baseline (backbone 'vae'; schema.free = N for the style): each image "
               "decoded with every block j's posterior multiplied over the step's images of "
               "its value of j + 0.1 x KL, each group's content counted once"),
}


@gs.hookimpl
def register_losses(register: Any) -> None:
    for term in (BlockClassifier, KL, TCKL, AdaGVAERecon, AdaGVAEKL, MLVAERecon, MLVAEKL,
                 StarGANLoss, ElegantAdversarial):
        register(term.name, term, description=(term.__doc__ or "").split("\n")[0])


@gs.hookimpl
def register_backbones(register: Any, registries: gs.Registries) -> None:
    register("vae", VAE.using(registries),
             description="Gaussian encoder around any registered backbone (options: inner, "
             "inner_options); sample in training, mean in eval")
    register("stargan", StarGAN, description="StarGAN's conditional generator: code = one-hot "
             "target labels + the source image's pixels (schema.latent = cardinalities, "
             "schema.free = C*H*W)")
    register("elegant", Elegant.using(registries),
             description="ELEGANT: attribute blocks of an inner encoder; decoding adds a "
             "residual to the base image the unlabelled block carries (schema.free = latent "
             "width + C*H*W)")


@gs.hookimpl
def register_recipes(register: Any) -> None:
    for name, (specs, description) in RECIPES.items():
        register(name, specs, description=description)


@gs.hookimpl
def register_commands(register: Any) -> None:
    register("compare", COMMAND)
