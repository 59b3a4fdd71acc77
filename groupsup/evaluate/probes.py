"""Batched probes: many small classifiers fit at once, as one full-batch optimisation.

A probe predicts a categorical attribute from a set of features. The metrics need many of them
(every latent block x every attribute), so they are fit together: inputs are ``P`` feature sets
padded to a common width, ``x (P, N, D)``, and every set is fit against all ``A`` attributes
``y (N, A)``. The problems are independent, so their mean objective has a block-diagonal
Hessian and one L-BFGS run (strong-Wolfe line search, full batch, deterministic on the CPU)
solves them all; it stops after ``iterations`` steps or once the mean objective changes by
less than 1e-6. Features are standardised with training statistics; zero padding stays zero
and so do its weights.

- ``"logistic"``: multinomial logistic regression, ``mean CE + l2 * |W|^2`` (convex; zero
  initialisation, so no randomness).
- ``"mlp"``: one hidden ReLU layer of ``hidden`` units per (feature set, attribute), same
  penalty on both weight matrices, seeded initialisation.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from groupsup.errors import ConfigError, did_you_mean


def stack_blocks(codes: torch.Tensor, sizes: Sequence[int]) -> torch.Tensor:
    """Split ``(N, Z)`` codes into contiguous blocks of *sizes*, zero-padded: ``(P, N, Dmax)``."""
    n, z = codes.shape
    widths = torch.tensor(list(sizes))
    starts = torch.cumsum(widths, 0) - widths
    k = torch.arange(int(widths.max()))
    columns = torch.where(k < widths[:, None], starts[:, None] + k, z)  # z = the padding column
    padded = torch.cat([codes, codes.new_zeros(n, 1)], dim=1)
    return padded[:, columns].permute(1, 0, 2).contiguous()


@dataclass
class Standardizer:
    """Per feature set and column: ``(x - mean) / std`` with training statistics ``(P, 1, D)``."""

    mean: torch.Tensor
    std: torch.Tensor

    @classmethod
    def fit(cls, x: torch.Tensor) -> Standardizer:
        std = x.std(dim=1, unbiased=False, keepdim=True)
        return cls(x.mean(dim=1, keepdim=True), torch.where(std > 1e-8, std, torch.ones_like(std)))

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        return (x - self.mean) / self.std


class Probes:
    """Fitted probes: ``P`` feature sets x ``A`` attributes. Subclasses give :meth:`forward`.

    Internally features are laid out ``(P, D, N)`` and logits ``(P, K_a, N)``, so every
    product is one contiguous batched matmul and the loss is one fused cross-entropy call.
    """

    def __init__(self, scaler: Standardizer, cardinalities: Sequence[int]):
        self.scaler = scaler
        self.cardinalities = tuple(cardinalities)

    def forward(self, zt: torch.Tensor) -> list[torch.Tensor]:
        """Standardised features ``(P, D, N)`` -> one ``(P, K_a, N)`` logit tensor per attribute."""
        raise NotImplementedError

    def parameters(self) -> list[torch.Tensor]:
        raise NotImplementedError

    def penalty(self) -> torch.Tensor:
        """Sum of squared weights (biases are not penalised)."""
        raise NotImplementedError

    def detach(self) -> None:
        """Drop the autograd graph after fitting."""
        for param in self.parameters():
            param.requires_grad_(False)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """Raw features ``(P, N, D)`` -> standardised, transposed ``(P, D, N)``."""
        return self.scaler(x).transpose(1, 2).contiguous()

    def predict(self, x: torch.Tensor) -> torch.Tensor:
        """Raw features ``(P, N, D)`` -> predicted codes ``(P, N, A)``."""
        with torch.no_grad():
            return torch.stack([lg.argmax(dim=1) for lg in self.forward(self.features(x))], -1)

    def accuracy(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """Fraction of rows predicted right: ``(P, A)``; ``y`` is ``(N, A)``."""
        return (self.predict(x) == y.unsqueeze(0)).double().mean(dim=1)


class LinearProbes(Probes):
    """Multinomial logistic regressions: per attribute ``weight[a] (P, K_a, D)``, ``bias[a]
    (P, K_a, 1)``."""

    def __init__(self, scaler: Standardizer, cardinalities: Sequence[int],
                 weight: Sequence[torch.Tensor], bias: Sequence[torch.Tensor]):
        super().__init__(scaler, cardinalities)
        self.weight, self.bias = list(weight), list(bias)

    def forward(self, zt: torch.Tensor) -> list[torch.Tensor]:
        return [w @ zt + b for w, b in zip(self.weight, self.bias)]

    def parameters(self) -> list[torch.Tensor]:
        return [*self.weight, *self.bias]

    def penalty(self) -> torch.Tensor:
        return sum(w.pow(2).sum() for w in self.weight)

    def importance(self) -> torch.Tensor:
        """``(P, D, A)``: for each standardised feature, the sum over classes of its squared
        class weights, i.e. its contribution to the variance of the attribute's logits
        (exact for uncorrelated features).

        Softmax weights are defined up to a per-feature shift shared by all classes; the sum
        is taken after centring over the classes, so the shift does not count.
        """
        with torch.no_grad():
            return torch.stack([(w - w.mean(dim=1, keepdim=True)).pow(2).sum(dim=1)
                                for w in self.weight], dim=-1)


class MLPProbes(Probes):
    """One hidden ReLU layer per (feature set, attribute): ``w1 (P, A, H, D)``, ``b1
    (P, A, H, 1)``, per-attribute output layers ``w2[a] (P, K_a, H)``, ``b2[a] (P, K_a, 1)``."""

    def __init__(self, scaler: Standardizer, cardinalities: Sequence[int], w1: torch.Tensor,
                 b1: torch.Tensor, w2: Sequence[torch.Tensor], b2: Sequence[torch.Tensor]):
        super().__init__(scaler, cardinalities)
        self.w1, self.b1, self.w2, self.b2 = w1, b1, list(w2), list(b2)

    def forward(self, zt: torch.Tensor) -> list[torch.Tensor]:
        hidden = torch.relu(self.w1 @ zt.unsqueeze(1) + self.b1)  # (P, A, H, N)
        return [w @ hidden[:, a] + b for a, (w, b) in enumerate(zip(self.w2, self.b2))]

    def parameters(self) -> list[torch.Tensor]:
        return [self.w1, self.b1, *self.w2, *self.b2]

    def penalty(self) -> torch.Tensor:
        return self.w1.pow(2).sum() + sum(w.pow(2).sum() for w in self.w2)


def _cross_entropy(logits: list[torch.Tensor], y: torch.Tensor) -> torch.Tensor:
    """Sum over feature sets and attributes of the mean cross-entropy; ``y`` is ``(N, A)``."""
    p = logits[0].shape[0]
    return sum(F.cross_entropy(lg, y[:, a].expand(p, -1), reduction="mean") * p
               for a, lg in enumerate(logits))


def _minimise(probes: Probes, zt: torch.Tensor, y: torch.Tensor, l2: float,
              iterations: int) -> None:
    """Fit *probes* in place: full-batch L-BFGS on the mean over probes of
    ``mean CE + l2 * penalty``; stops after *iterations* or when that mean changes by less
    than ``1e-6`` per iteration."""
    params = probes.parameters()
    optimiser = torch.optim.LBFGS(params, lr=1.0, max_iter=iterations, history_size=20,
                                  line_search_fn="strong_wolfe", tolerance_grad=1e-7,
                                  tolerance_change=1e-6)
    count = zt.shape[0] * len(probes.cardinalities)

    def closure() -> torch.Tensor:
        optimiser.zero_grad()
        loss = (_cross_entropy(probes.forward(zt), y) + l2 * probes.penalty()) / count
        loss.backward()
        return loss

    with torch.enable_grad():
        optimiser.step(closure)
    probes.detach()


def fit_logistic(x: torch.Tensor, y: torch.Tensor, cardinalities: Sequence[int], *, l2: float,
                 iterations: int, generator: torch.Generator, hidden: int) -> LinearProbes:
    """Fit ``P x A`` multinomial logistic regressions (``generator``, ``hidden`` unused)."""
    p, _, d = x.shape
    probes = LinearProbes(Standardizer.fit(x), cardinalities,
                          [x.new_zeros(p, k, d, requires_grad=True) for k in cardinalities],
                          [x.new_zeros(p, k, 1, requires_grad=True) for k in cardinalities])
    _minimise(probes, probes.features(x), y, l2, iterations)
    return probes


def fit_mlp(x: torch.Tensor, y: torch.Tensor, cardinalities: Sequence[int], *, l2: float,
            iterations: int, generator: torch.Generator, hidden: int) -> MLPProbes:
    """Fit ``P x A`` one-hidden-layer MLPs, initialised from ``generator`` (He normal)."""
    p, _, d = x.shape
    a = len(cardinalities)

    def normal(*shape: int) -> torch.Tensor:
        w = torch.randn(*shape, generator=generator, dtype=x.dtype) * (2.0 / shape[-1]) ** 0.5
        return w.to(x.device).requires_grad_()

    probes = MLPProbes(Standardizer.fit(x), cardinalities, normal(p, a, hidden, d),
                       x.new_zeros(p, a, hidden, 1, requires_grad=True),
                       [normal(p, k, hidden) for k in cardinalities],
                       [x.new_zeros(p, k, 1, requires_grad=True) for k in cardinalities])
    _minimise(probes, probes.features(x), y, l2, iterations)
    return probes


FITTERS = {"logistic": fit_logistic, "mlp": fit_mlp}


def fit_probes(kind: str, x: torch.Tensor, y: torch.Tensor, cardinalities: Sequence[int], *,
               l2: float, iterations: int, generator: torch.Generator,
               hidden: int = 32) -> Probes:
    """Fit probes of *kind* (``"logistic"`` or ``"mlp"``) on ``x (P, N, D)``, ``y (N, A)``."""
    if kind not in FITTERS:
        raise ConfigError(f"probe must be one of {list(FITTERS)}, got {kind!r}"
                          f"{did_you_mean(kind, FITTERS)}")
    if l2 < 0:
        raise ConfigError(f"l2 must be non-negative, got {l2}")
    if iterations < 1:
        raise ConfigError(f"iterations must be positive, got {iterations}")
    if hidden < 1:
        raise ConfigError(f"hidden must be positive, got {hidden}")
    return FITTERS[kind](x, y, cardinalities, l2=l2, iterations=iterations, generator=generator,
                         hidden=hidden)
