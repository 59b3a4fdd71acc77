"""Coloured handwritten digits: a non-grid image folder with a CSV manifest.

The digits are scikit-learn's bundled handwriting (``sklearn.datasets.load_digits``: 1,797
real 8x8 grayscale scans, shipped inside the wheel, no download). Each real digit is drawn,
upsampled, in an ink colour on a background colour at one of two sizes, shifted by a few
pixels, so a combination's images differ by writer and position (instance variation that the
labels do not name). Attributes: digit (10) x ink (5) x back (4) x scale (2) = 400
combinations, of which a seeded random ``--coverage`` fraction is present, so the data is not
a grid. Every digit x ink pair keeps at least one present combination, so any of them can be
held out and still have real test images.

Writes ``OUT/images/<digit>_<ink>_<back>_<scale>_<k>.png`` and ``OUT/labels.csv`` with columns
``path, digit, ink, back, scale, split, source`` (``split``: ``test`` for the digit x ink
pairs of ``HELD_OUT``, the same pairs ``digits.toml`` holds out, else ``train``; ``source``:
the index of the real scan in ``load_digits``). Deterministic given ``--seed``.

    python examples/digits/make_digits.py --out data/digits            # ~8,000 images, 32 px
    python examples/digits/make_digits.py --out /tmp/d --count 300 --size 16
"""

from __future__ import annotations

import argparse
import csv
import os
import sys
import tempfile
from pathlib import Path

import numpy as np
from PIL import Image

INKS = {"red": (230, 40, 40), "green": (40, 190, 60), "blue": (50, 90, 250),
        "yellow": (245, 215, 40), "cyan": (40, 215, 225)}
BACKS = {"black": (15, 15, 15), "white": (240, 240, 240), "gray": (115, 115, 115),
         "brown": (95, 55, 20)}
SCALES = {"small": 0.5, "large": 0.875}  # the digit's side as a fraction of the canvas
# One held-out ink per digit, every ink held out twice; digits.toml lists the same pairs.
HELD_OUT = [(0, "red"), (1, "green"), (2, "blue"), (3, "yellow"), (4, "cyan"),
            (5, "red"), (6, "green"), (7, "blue"), (8, "yellow"), (9, "cyan")]
COLUMNS = ["path", "digit", "ink", "back", "scale", "split", "source"]


def choose_combinations(coverage: float, rng: np.random.Generator) -> np.ndarray:
    """The present combinations, ``(P, 4)`` integer codes (digit, ink, back, scale), sorted.

    A random ``coverage`` fraction of the 400, plus one random (back, scale) for any digit x
    ink pair left with none, so that every pair has real images.
    """
    shape = (10, len(INKS), len(BACKS), len(SCALES))
    grid = np.stack(np.meshgrid(*map(np.arange, shape), indexing="ij"), -1).reshape(-1, 4)
    present = np.zeros(len(grid), dtype=bool)
    present[rng.permutation(len(grid))[:round(coverage * len(grid))]] = True
    per_pair = present.reshape(10 * len(INKS), -1)
    for pair in np.flatnonzero(~per_pair.any(axis=1)):
        per_pair[pair, rng.integers(per_pair.shape[1])] = True
    return grid[present]


def draw(scan: np.ndarray, ink: tuple[int, int, int], back: tuple[int, int, int], side: int,
         size: int, rng: np.random.Generator) -> np.ndarray:
    """One ``(size, size, 3)`` uint8 image: the 8x8 *scan* (values 0..16) upsampled bilinearly
    to ``side`` px, used as the ink's opacity over the background, centred and then shifted
    at random by up to ``size // 8`` px each way (at least 1, within the canvas)."""
    alpha = Image.fromarray((scan / 16.0).astype(np.float32), mode="F")
    alpha = np.asarray(alpha.resize((side, side), Image.BILINEAR)).clip(0, 1)
    reach = max(1, size // 8)
    top, left = ((size - side) // 2 + rng.integers(-reach, reach + 1, 2)).clip(0, size - side)
    opacity = np.zeros((size, size, 1))
    opacity[top:top + side, left:left + side, 0] = alpha
    image = opacity * np.array(ink, float) + (1 - opacity) * np.array(back, float)
    return np.rint(image).astype(np.uint8)


def make_digits(out: str | Path, *, count: int = 8000, size: int = 32, coverage: float = 0.6,
                seed: int = 0) -> int:
    """Write the dataset into *out* (created; an existing ``labels.csv`` there is refused)
    and return the number of images. ``count`` is spread evenly over the present
    combinations; each combination's images are distinct real scans of its digit."""
    from sklearn.datasets import load_digits

    out = Path(out)
    if (out / "labels.csv").exists():
        raise SystemExit(f"{out}: already holds a dataset (labels.csv); choose another --out")
    if size < 8:
        raise SystemExit(f"--size {size}: the canvas must be at least 8 px")
    digits = load_digits()
    pools = [np.flatnonzero(digits.target == d) for d in range(10)]
    rng = np.random.default_rng(seed)
    combos = choose_combinations(coverage, rng)
    per_combo = np.full(len(combos), count // len(combos))
    per_combo[rng.permutation(len(combos))[:count % len(combos)]] += 1
    inks, backs, scales = list(INKS), list(BACKS), list(SCALES)
    held = {(d, inks.index(i)) for d, i in HELD_OUT}
    (out / "images").mkdir(parents=True, exist_ok=True)
    rows = []
    for (d, i, b, s), n in zip(combos.tolist(), per_combo.tolist(), strict=True):
        # distinct scans within a combination; across combinations every scan is reused
        sources = rng.choice(pools[d], size=min(n, len(pools[d])), replace=False)
        sources = np.resize(sources, n)
        side = max(4, round(SCALES[scales[s]] * size))
        for k, source in enumerate(sources.tolist()):
            name = f"images/{d}_{inks[i]}_{backs[b]}_{scales[s]}_{k:03d}.png"
            image = draw(digits.images[source], INKS[inks[i]], BACKS[backs[b]], side, size, rng)
            Image.fromarray(image).save(out / name)
            rows.append({"path": name, "digit": d, "ink": inks[i], "back": backs[b],
                         "scale": scales[s], "split": "test" if (d, i) in held else "train",
                         "source": source})
    # the manifest last and atomically: a folder with labels.csv is complete
    fd, tmp = tempfile.mkstemp(dir=out, prefix=".labels.", suffix=".csv")
    with os.fdopen(fd, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=COLUMNS)
        writer.writeheader()
        writer.writerows(rows)
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(tmp, 0o666 & ~umask)
    os.replace(tmp, out / "labels.csv")
    return len(rows)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--out", required=True, help="folder to write (images/ and labels.csv)")
    p.add_argument("--count", type=int, default=8000, help="number of images (default 8000)")
    p.add_argument("--size", type=int, default=32, help="canvas side in px (default 32)")
    p.add_argument("--coverage", type=float, default=0.6,
                   help="fraction of the 400 combinations present (default 0.6)")
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args(argv)
    n = make_digits(args.out, count=args.count, size=args.size, coverage=args.coverage,
                    seed=args.seed)
    print(f"wrote {n} images and {Path(args.out) / 'labels.csv'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
