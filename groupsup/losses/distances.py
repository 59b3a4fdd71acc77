"""Distances between a decoder's output and its target, and between latent codes.

Every distance is a mean over all elements, so a term's value does not grow with the batch.
``bce`` treats the decoder output as Bernoulli logits and maps targets from ``[-1, 1]`` to
``[0, 1]`` (binary images such as dSprites); ``l1`` and ``l2`` compare images in ``[-1, 1]``
(logits are first mapped with ``sigmoid * 2 - 1``). All ops are autocast-safe: PyTorch runs
``l1_loss``, ``mse_loss`` and ``binary_cross_entropy_with_logits`` in float32 under autocast.
"""

from __future__ import annotations

from typing import Literal

import torch
import torch.nn.functional as F

from groupsup.errors import ConfigError

Distance = Literal["l1", "l2", "bce"]
DISTANCES: tuple[str, ...] = ("l1", "l2", "bce")
CODE_DISTANCES: tuple[str, ...] = ("l1", "l2")


def image_distance(distance: str, raw: torch.Tensor, target: torch.Tensor, output: str
                   ) -> torch.Tensor:
    """Mean distance between raw decoder output and target images, both ``(B, C, H, W)``.

    *output* is the backbone's ``"tanh"`` or ``"logits"``; ``bce`` needs ``"logits"``.
    """
    return _elementwise(distance, raw, target, output).mean()


def shift_tolerant_distance(distance: str, raw: torch.Tensor, target: torch.Tensor,
                            output: str, reach: int) -> torch.Tensor:
    """:func:`image_distance` where each image may match its target moved by up to *reach*
    pixels each way (the target's border replicated): per image the best of the
    ``(2 * reach + 1) ** 2`` shifts, then the mean over images (equal to
    :func:`image_distance` for ``reach = 0``).

    For targets that no input determines exactly: a cover reconstruction of data whose images
    of one combination differ in position (a nuisance no attribute names) cannot know where
    the target sits, and a plain distance then rewards the blur of every position at once.
    """
    if reach == 0:
        return image_distance(distance, raw, target, output)
    if reach < 0:
        raise ConfigError(f"shift tolerance must be >= 0 pixels, got {reach}")
    h, w = target.shape[-2:]
    padded = F.pad(target, (reach, reach, reach, reach), mode="replicate")
    best = None
    for dy in range(2 * reach + 1):
        for dx in range(2 * reach + 1):
            moved = padded[:, :, dy:dy + h, dx:dx + w]
            per_image = _elementwise(distance, raw, moved, output).flatten(1).mean(1)
            best = per_image if best is None else torch.minimum(best, per_image)
    return best.mean()


def _elementwise(distance: str, raw: torch.Tensor, target: torch.Tensor, output: str
                 ) -> torch.Tensor:
    """The unreduced ``(B, C, H, W)`` terms of :func:`image_distance`."""
    if distance == "bce":
        if output != "logits":
            raise ConfigError("distance 'bce' needs a backbone whose output is 'logits'; this "
                              f"one outputs {output!r} (set the backbone config's output)")
        return F.binary_cross_entropy_with_logits(raw, (target + 1) * 0.5, reduction="none")
    image = torch.sigmoid(raw) * 2 - 1 if output == "logits" else raw
    if distance == "l1":
        return F.l1_loss(image, target, reduction="none")
    if distance == "l2":
        return F.mse_loss(image, target, reduction="none")
    raise ConfigError(f"unknown distance {distance!r}; choose one of {list(DISTANCES)}")


def code_distance(distance: str, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Mean ``l1`` or ``l2`` distance between latent codes ``(B, Z)``."""
    if distance == "l1":
        return F.l1_loss(a, b)
    if distance == "l2":
        return F.mse_loss(a, b)
    raise ConfigError(f"distance {distance!r} does not apply to latent codes; choose one of "
                      f"{list(CODE_DISTANCES)}")


def variance_scaled_distance(a: torch.Tensor, b: torch.Tensor,
                             codes: torch.Tensor) -> torch.Tensor:
    """Mean of ``(a - b)^2`` over ``(B, Z)`` codes, each dimension divided by its variance over
    *codes* (``(N, Z)``, the step's, detached): scale-free, so shrinking the codes does not
    lower it."""
    scale = codes.detach().var(0).clamp_min(1e-8)
    return ((a - b).square() / scale).mean()
