"""Colour artefacts of synthesised Fonts images (droplets, specks of foreign colour).

A Fonts image holds only its font colour ``f``, its background colour ``b`` and their
antialiased blends, i.e. colours on the segment ``[b, f]`` of RGB space. A synthesised pixel
farther than ``threshold`` (RGB in ``[0, 1]``) from that segment is a colour no rendering of the
requested combination contains: an **artefact**. Pixels in a band around the glyph's edges
are not counted, since a synthesis a pixel off there is a shape error rather than a foreign
colour: the band is every pixel of the ground truth whose 3x3 neighbourhood is not of one
colour (both sides of every edge), dilated by ``band`` pixels.

:func:`colour_artefacts` is the Fonts dataset's measure of syntheses (registered through
``register_evaluations`` as a ``gs.SynthesisMeasure`` for runs of ``fonts``): ``groupsup
evaluate`` reports it under ``synthesis.artefacts``.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

import groupsup as gs
from groupsup_fonts.schema import COLOURS

THRESHOLD = 0.2  # RGB distance in [0, 1] units beyond which a colour is foreign
BAND = 1  # pixels the edge band is dilated by
CLUSTER = 3  # connected artefact pixels that make an image count as having a droplet


def _unit_rgb(images: torch.Tensor | np.ndarray) -> np.ndarray:
    """``(N, 3, H, W)`` images in ``[-1, 1]`` -> ``(N, H, W, 3)`` float64 in ``[0, 1]``."""
    x = images.detach().cpu().numpy() if isinstance(images, torch.Tensor) else np.asarray(images)
    return np.clip((x.astype(np.float64) + 1) / 2, 0, 1).transpose(0, 2, 3, 1)


def _neighbourhood(mask: np.ndarray, reduce: Any, radius: int = 1) -> np.ndarray:
    """*reduce* (``np.maximum`` / ``np.minimum``) of ``(N, H, W)`` over each pixel's
    ``(2 radius + 1)^2`` window, edges padded with the nearest pixel."""
    h, w = mask.shape[1:]
    padded = np.pad(mask, ((0, 0), (radius, radius), (radius, radius)), mode="edge")
    out = mask.copy()
    for dy in range(2 * radius + 1):
        for dx in range(2 * radius + 1):
            out = reduce(out, padded[:, dy:dy + h, dx:dx + w])
    return out


def segment_distance(pixels: np.ndarray, back: np.ndarray, font: np.ndarray
                     ) -> tuple[np.ndarray, np.ndarray]:
    """Distance of each pixel to the segment ``[back, font]`` and its position on it.

    *pixels* ``(N, H, W, 3)``, *back* / *font* ``(N, 3)``, all RGB in ``[0, 1]``. Returns
    ``(distance, t)``, both ``(N, H, W)``: ``t`` in ``[0, 1]`` is the blend (0 background,
    1 font colour) of the segment's nearest point.
    """
    direction = (font - back)[:, None, None, :]
    length2 = np.maximum((direction ** 2).sum(-1), 1e-12)
    offset = pixels - back[:, None, None, :]
    t = np.clip((offset * direction).sum(-1) / length2, 0, 1)
    distance = np.sqrt(((offset - t[..., None] * direction) ** 2).sum(-1))
    return distance, t


def edge_band(truth: np.ndarray, band: int = BAND) -> np.ndarray:
    """``(N, H, W)`` bool: pixels of the ground truth ``(N, H, W, 3)`` whose 3x3 neighbourhood
    holds more than one colour, dilated by *band* pixels."""
    spread = np.zeros(truth.shape[:3], dtype=bool)
    for c in range(truth.shape[-1]):
        channel = truth[..., c]
        spread |= (_neighbourhood(channel, np.maximum) - _neighbourhood(channel, np.minimum)
                   ) > 1e-6
    return _neighbourhood(spread, np.maximum, band) if band else spread


def largest_clusters(mask: np.ndarray) -> np.ndarray:
    """``(N,)``: the size of the largest 8-connected set of True pixels of each ``(H, W)``
    image of *mask* ``(N, H, W)`` (0 when none)."""
    n, h, w = mask.shape
    labels = np.where(mask, np.arange(1, n * h * w + 1).reshape(n, h, w), 0)
    while True:  # every pixel takes the largest label of its component: a few iterations
        grown = np.where(mask, _neighbourhood(labels, np.maximum), 0)
        if np.array_equal(grown, labels):
            break
        labels = grown
    sizes = np.zeros(n, dtype=np.int64)
    found, counts = np.unique(labels[mask], return_counts=True)
    np.maximum.at(sizes, (found - 1) // (h * w), counts)
    return sizes


def colour_artefacts(synth: torch.Tensor | np.ndarray, truth: torch.Tensor | np.ndarray,
                     labels: np.ndarray, dataset: gs.GroupDataset, *,
                     threshold: float = THRESHOLD, band: int = BAND,
                     cluster: int = CLUSTER) -> dict[str, Any]:
    """Artefacts of synthesised Fonts images against their requested colours.

    *synth*, *truth*: ``(N, 3, H, W)`` in ``[-1, 1]``, the synthesis and the rendered ground
    truth of the requested combinations *labels* ``(N, A)`` (codes of *dataset*'s schema,
    which names ``font_color`` and ``back_color``). Returns (JSON-ready): ``rate`` (artefact
    pixels / all pixels), ``percent`` (the same in %), ``pixels``, ``images_with_artefacts``,
    ``images_with_clusters`` (images with ``>= cluster`` 8-connected artefact pixels),
    ``largest_cluster``, ``n`` and the ``config``.
    """
    synth_rgb, truth_rgb = _unit_rgb(synth), _unit_rgb(truth)
    if synth_rgb.shape != truth_rgb.shape or synth_rgb.shape[-1] != 3:
        raise gs.DataError(f"colour_artefacts: synth and truth must be (N, 3, H, W) of one "
                           f"shape; got {tuple(np.shape(synth))} and {tuple(np.shape(truth))}")
    labels = np.asarray(labels)
    if labels.shape[0] != synth_rgb.shape[0]:
        raise gs.DataError(f"colour_artefacts: labels has {labels.shape[0]} rows for "
                           f"{synth_rgb.shape[0]} images")
    schema = dataset.schema
    rgb = {}
    for name in ("font_color", "back_color"):
        values = schema[name].values
        table = np.array([COLOURS[str(v).lower()] for v in values], dtype=np.float64) / 255
        rgb[name] = table[labels[:, schema.names.index(name)]]
    distance, _ = segment_distance(synth_rgb, rgb["back_color"], rgb["font_color"])
    flagged = (distance > threshold) & ~edge_band(truth_rgb, band)
    clusters = largest_clusters(flagged)
    n = flagged.shape[0]
    rate = float(flagged.mean()) if n else 0.0
    return {"rate": rate, "percent": 100 * rate,
            "pixels": int(flagged.sum()),
            "images_with_artefacts": int(flagged.any(axis=(1, 2)).sum()),
            "images_with_clusters": int((clusters >= cluster).sum()),
            "largest_cluster": int(clusters.max(initial=0)),
            "n": n,
            "config": {"threshold": threshold, "band": band, "cluster": cluster}}
