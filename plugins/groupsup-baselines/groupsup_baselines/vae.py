"""beta-VAE as a backbone wrapper (``vae``) plus the ``kl`` loss term.

``vae`` wraps any registered backbone (``inner``) built for a code twice as wide: its encoder
outputs the posterior mean and log-variance ``(B, 2Z)``. :meth:`VAE.encode` returns a
reparameterised sample ``mu + sigma * eps`` in training mode and the mean in eval mode, so
every groupsup tool (synthesis, evaluation, sample sheets) sees the mean code of an image.
The decoder is the inner one, fed through a linear lift ``Z -> 2Z`` (for ``conv-small`` and
``gzsnet`` the decoder starts with a linear layer, so the lift adds no expressiveness).

The ``kl`` term is ``KL(q(z|x) || N(0, I))``: a step's encode remembers the posterior of the
images it saw, so the term costs no second encoder pass (it recomputes the posterior only when
asked about other images).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal

import torch
from pydantic import Field
from torch import nn

import groupsup as gs
from groupsup_baselines.inner import WrapperBackbone

# log-variance is clamped to this range: variances from 2e-9 to 3e3 (keeps exp() finite)
LOGVAR_RANGE = (-20.0, 8.0)


class VAEConfig(gs.BackboneConfig):
    """Options of ``vae``."""

    inner: str = Field("conv-small", description="the registered backbone to wrap")
    inner_options: dict[str, Any] = Field(default_factory=dict,
                                          description="the inner backbone's own config")
    search: Literal["nmi", "exhaustive"] = Field(
        "nmi", description="how evaluation assigns latent dimensions to attributes after "
        "training (groupsup_baselines.search): 'exhaustive' where the search space allows, "
        "else 'nmi' (a logged fallback); training ignores it")


class VAE(WrapperBackbone):
    """A Gaussian encoder ``q(z|x) = N(mu(x), diag(exp(logvar(x))))`` around an inner backbone."""

    Config = VAEConfig

    def __init__(self, image_shape: tuple[int, int, int], latent_size: int,
                 config: VAEConfig | Mapping[str, Any] | None = None) -> None:
        super().__init__(image_shape, latent_size, config)
        cfg: VAEConfig = self.config  # type: ignore[assignment]
        if cfg.inner == "vae":
            raise gs.ConfigError("vae: inner must be another backbone than 'vae'")
        self.inner = self.build_inner("vae", cfg.inner, 2 * latent_size, cfg.inner_options)
        self.output = self.inner.output
        self.lift = nn.Linear(latent_size, 2 * latent_size)
        self._posterior: tuple[torch.Tensor, torch.Tensor, torch.Tensor] | None = None

    def posterior(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Images ``(B, C, H, W)`` -> ``(mu, logvar)``, each ``(B, Z)``.

        Reuses the last :meth:`encode` call's result when *x* is the same tensor.
        """
        if self._posterior is not None and self._posterior[0] is x:
            return self._posterior[1], self._posterior[2]
        mu, logvar = self.inner.encode(x).chunk(2, dim=1)
        logvar = logvar.clamp(*LOGVAR_RANGE)
        self._posterior = (x, mu, logvar)
        return mu, logvar

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        """``(B, C, H, W)`` -> ``(B, Z)``: a posterior sample in training mode, else the mean."""
        self._posterior = None
        mu, logvar = self.posterior(x)
        if not self.training:
            return mu
        return mu + torch.exp(0.5 * logvar) * torch.randn_like(mu)

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        """``(B, Z)`` -> ``(B, C, H, W)`` through the lift and the inner decoder."""
        self.check_code(z)
        return self.inner.decode(self.lift(z))


def kl_divergence(mu: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
    """``KL(N(mu, exp(logvar)) || N(0, 1))`` in nats, averaged over rows and dimensions.

    ``mu``, ``logvar``: ``(B, Z)``. Per dimension ``0.5 (mu^2 + exp(logvar) - 1 - logvar)``;
    multiply by ``Z`` for the usual per-image sum.
    """
    return 0.5 * (mu.pow(2) + logvar.exp() - 1 - logvar).mean()


def vae_backbone(step: gs.StepContext, term: str) -> VAE:
    """The step's model's ``vae`` backbone; a :class:`~groupsup.ConfigError` names loss term
    *term*, which needs it, where the model has another."""
    backbone = step.model.backbone
    if not isinstance(backbone, VAE):
        raise gs.ConfigError(f"loss term {term!r} needs the 'vae' backbone (model.backbone = "
                             f"'vae', options.inner = ...); this model's is "
                             f"{type(backbone).__name__}")
    return backbone


class KL(gs.LossTerm):
    """KL divergence of the ``vae`` backbone's posterior from N(0, I), nats per latent dim."""

    name = "kl"
    compares = "codes"

    def run(self, step: gs.StepContext) -> torch.Tensor:
        backbone = vae_backbone(step, "kl")
        return kl_divergence(*backbone.posterior(step.images))
