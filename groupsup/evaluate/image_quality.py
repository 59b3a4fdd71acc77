"""Full-reference image quality: MSE, PSNR and SSIM, per image and mean.

Images are ``(N, C, H, W)`` floats (numpy or torch). PSNR and SSIM depend on the value range,
so both take ``data_range`` explicitly: 2 for images in ``[-1, 1]`` (groupsup's convention), 1
for ``[0, 1]``, 255 for 8-bit values. Everything is computed in float64 on the CPU.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

from groupsup.errors import ConfigError, DataError
from groupsup.evaluate.arrays import ArrayLike, as_images, json_array, json_float, same_shape


@dataclass(frozen=True)
class ImageScores:
    """One metric over a batch: ``per_image`` is ``(N,)``; ``config`` records the arguments."""

    metric: str
    per_image: np.ndarray
    config: dict[str, Any] = field(default_factory=dict)

    @property
    def mean(self) -> float:
        return float(self.per_image.mean())

    def to_dict(self) -> dict[str, Any]:
        """JSON-able; non-finite values (PSNR of identical images) become ``None``."""
        return {"metric": self.metric, "mean": json_float(self.mean), "n": len(self.per_image),
                "per_image": json_array(self.per_image), "config": dict(self.config)}


def _pair(pred: ArrayLike, truth: ArrayLike) -> tuple[torch.Tensor, torch.Tensor]:
    p, t = as_images(pred, "pred"), as_images(truth, "truth")
    same_shape(p, t)
    return p, t


def _check_range(data_range: float) -> float:
    if not data_range > 0:
        raise ConfigError(f"data_range must be positive (2 for [-1, 1] images, 1 for [0, 1]), "
                          f"got {data_range}")
    return float(data_range)


def _per_image_mse(pred: torch.Tensor, truth: torch.Tensor) -> torch.Tensor:
    return (pred - truth).pow(2).flatten(1).mean(dim=1)


def mse(pred: ArrayLike, truth: ArrayLike) -> ImageScores:
    """Mean squared error of each image pair, averaged over channels and pixels.

    ``pred``, ``truth``: ``(N, C, H, W)``. Returns :class:`ImageScores` with ``per_image (N,)``.
    """
    p, t = _pair(pred, truth)
    return ImageScores("mse", _per_image_mse(p, t).numpy())


def psnr(pred: ArrayLike, truth: ArrayLike, *, data_range: float) -> ImageScores:
    """Peak signal-to-noise ratio in dB: ``10 log10(data_range**2 / MSE)`` per image.

    ``pred``, ``truth``: ``(N, C, H, W)``; ``data_range``: max minus min of the value range
    (2 for ``[-1, 1]``). Identical images score ``inf``. The mean is over per-image PSNRs.
    """
    p, t = _pair(pred, truth)
    peak = _check_range(data_range)
    err = _per_image_mse(p, t)
    with np.errstate(divide="ignore"):
        values = 10.0 * np.log10(peak**2 / err.numpy())
    return ImageScores("psnr", values, {"data_range": peak})


def gaussian_window(size: int, sigma: float) -> torch.Tensor:
    """Normalised 1-D Gaussian ``(size,)`` in float64, centred on the middle tap."""
    if size < 1 or size % 2 == 0:
        raise ConfigError(f"window must be a positive odd size, got {size}")
    if not sigma > 0:
        raise ConfigError(f"sigma must be positive, got {sigma}")
    x = torch.arange(size, dtype=torch.float64) - (size - 1) / 2
    g = torch.exp(-(x**2) / (2 * sigma**2))
    return g / g.sum()


def ssim(pred: ArrayLike, truth: ArrayLike, *, data_range: float, window: int = 11,
         sigma: float = 1.5, k1: float = 0.01, k2: float = 0.03, chunk: int = 64) -> ImageScores:
    """Structural similarity (Wang et al. 2004) with a Gaussian window, per image.

    Local means, variances and covariance are Gaussian-weighted (``window`` x ``window`` taps,
    ``sigma``; population, not sample, statistics) over every position where the window fits
    inside the image ("valid"); SSIM maps are averaged over positions, then over channels.
    ``C1 = (k1 * data_range)**2``, ``C2 = (k2 * data_range)**2``. ``pred``, ``truth``:
    ``(N, C, H, W)`` with ``H, W >= window``. Batches of ``chunk`` images are processed at once.
    """
    p, t = _pair(pred, truth)
    peak = _check_range(data_range)
    h, w = p.shape[-2:]
    if h < window or w < window:
        raise DataError(f"ssim needs images of at least {window}x{window} pixels (the window), "
                        f"got {h}x{w}")
    if chunk < 1:
        raise ConfigError(f"chunk must be positive, got {chunk}")
    g = gaussian_window(window, sigma)
    c1, c2 = (k1 * peak) ** 2, (k2 * peak) ** 2
    values = [_ssim_batch(p[i:i + chunk], t[i:i + chunk], g, c1, c2)
              for i in range(0, p.shape[0], chunk)]
    per_image = torch.cat(values).numpy() if values else np.zeros(0)
    return ImageScores("ssim", per_image, {"data_range": peak, "window": window, "sigma": sigma,
                                           "k1": k1, "k2": k2})


def valid_filter_matrix(length: int, taps: torch.Tensor) -> torch.Tensor:
    """``(length, length - k + 1)`` banded matrix: ``x @ M`` is the "valid" correlation with taps.

    A matrix product runs the separable filter through BLAS, far faster in float64 than a
    depthwise ``conv2d``.
    """
    k = taps.shape[0]
    offset = torch.arange(length).unsqueeze(1) - torch.arange(length - k + 1).unsqueeze(0)
    inside = (offset >= 0) & (offset < k)
    return torch.where(inside, taps[offset.clamp(0, k - 1)], torch.zeros((), dtype=taps.dtype))


def _ssim_batch(x: torch.Tensor, y: torch.Tensor, g: torch.Tensor, c1: float,
                c2: float) -> torch.Tensor:
    """SSIM of ``(n, C, H, W)`` pairs -> ``(n,)``: one separable filter pass for all moments."""
    channels, h, w = x.shape[1:]
    moments = torch.cat([x, y, x * x, y * y, x * y], dim=1)  # (n, 5C, H, W)
    local = valid_filter_matrix(h, g).T @ (moments @ valid_filter_matrix(w, g))
    mu_x, mu_y, xx, yy, xy = local.split(channels, dim=1)
    var_x, var_y, cov = xx - mu_x**2, yy - mu_y**2, xy - mu_x * mu_y
    num = (2 * mu_x * mu_y + c1) * (2 * cov + c2)
    den = (mu_x**2 + mu_y**2 + c1) * (var_x + var_y + c2)
    return (num / den).flatten(1).mean(dim=1)
