"""Fonts off the grid: a random 60% of the demo's combinations, each drawn twice with a shift.

Fonts-mini is a grid: every combination of letter x size x font colour x background x font
exists exactly once. This writes a dataset that is not. The Fonts renderer draws the demo's
3,600 combinations (letters A-J, 3 sizes, 5 font colours on the 4 other backgrounds of the 5
colours, the 6 matplotlib fonts; 32 px); a seeded random ``--coverage`` share of them is kept
(60% by default: 40% of the combinations are removed); each kept combination is written
``--instances`` times (2 by default), every copy shifted by a random whole number of pixels
in ``[-2, 2]`` each way (the border replicated: the background). So two images of one
combination differ by position, variation the labels do not name. The folder
(``OUT/images/*.png`` and ``OUT/labels.csv`` with columns
``path, letter, size, font_color, back_color, font``) is read by the generic ``folder``
dataset, as a user's own data would be; ``examples/fonts/nongrid.toml`` trains on it with 10%
of the present combinations held out (``nongrid-shift.toml``: the cover term's
``shift_tolerance = 2``; docs/results.md compares the two).

    python examples/fonts/make_nongrid.py --out data/fonts-nongrid        # 4,320 PNGs, ~7 s
    groupsup train examples/fonts/nongrid.toml                             # 540 s
    groupsup evaluate runs/fonts-nongrid
"""

from __future__ import annotations

import argparse
import csv
import io
import sys
from pathlib import Path

import numpy as np
from PIL import Image

from groupsup.fileio import atomic_write_text

ATTRIBUTES = ("letter", "size", "font_color", "back_color", "font")
COLUMNS = ["path", *ATTRIBUTES]


def kept_combinations(count: int, coverage: float, rng: np.random.Generator) -> np.ndarray:
    """Sorted indices of the ``round(coverage * count)`` combinations kept."""
    if not 0 < coverage <= 1:
        raise SystemExit(f"--coverage {coverage}: must lie in (0, 1]")
    return np.sort(rng.permutation(count)[:max(1, round(coverage * count))])


def shift(image: np.ndarray, dy: int, dx: int) -> np.ndarray:
    """``(H, W, 3)`` *image* moved by ``(dy, dx)`` pixels, the vacated border replicated."""
    h, w, _ = image.shape
    reach = max(abs(dy), abs(dx))
    padded = np.pad(image, ((reach, reach), (reach, reach), (0, 0)), mode="edge")
    return padded[reach - dy:reach - dy + h, reach - dx:reach - dx + w]


def make_nongrid(out: str | Path, *, coverage: float = 0.6, instances: int = 2, reach: int = 2,
                 seed: int = 0, overrides: tuple[str, ...] = ()) -> int:
    """Write the dataset into *out* (an existing ``labels.csv`` there is refused); return the
    number of images. *overrides* (``KEY=VALUE``) change the demo config's Fonts, e.g.
    ``dataset.options.letters=A-C``."""
    from groupsup_fonts.demo import demo_config

    import groupsup as gs

    out = Path(out)
    if (out / "labels.csv").exists():
        raise SystemExit(f"{out}: already holds a dataset (labels.csv); choose another --out")
    if instances < 1 or reach < 0:
        raise SystemExit(f"--instances {instances} must be >= 1 and --reach {reach} >= 0")
    data = gs.build_dataset(gs.load_config(demo_config(), list(overrides)))
    names = list(data.schema.names)
    if sorted(names) != sorted(ATTRIBUTES):
        raise SystemExit(f"the Fonts schema has attributes {names}, expected {ATTRIBUTES}")
    rng = np.random.default_rng(seed)
    kept = kept_combinations(len(data), coverage, rng)
    (out / "images").mkdir(parents=True, exist_ok=True)
    rows = []
    for start in range(0, len(kept), 512):
        chunk = kept[start:start + 512]
        images = data.load_uint8(chunk)                      # (n, H, W, 3) uint8
        for index, image in zip(chunk.tolist(), images):
            values = {a: data.schema[a].values[data.labels[index, names.index(a)]]
                      for a in ATTRIBUTES}
            for k in range(instances):
                dy, dx = rng.integers(-reach, reach + 1, 2)
                path = f"images/{index:05d}_{k}.png"
                moved = shift(image, int(dy), int(dx))
                Image.fromarray(np.ascontiguousarray(moved)).save(out / path)
                rows.append({"path": path, **values})
    # the manifest last and atomically: a folder with labels.csv is complete
    manifest = io.StringIO(newline="")
    writer = csv.DictWriter(manifest, fieldnames=COLUMNS)
    writer.writeheader()
    writer.writerows(rows)
    atomic_write_text(out / "labels.csv", manifest.getvalue())
    return len(rows)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--out", required=True, help="folder to write (images/ and labels.csv)")
    p.add_argument("--coverage", type=float, default=0.6,
                   help="share of the combinations kept (default 0.6)")
    p.add_argument("--instances", type=int, default=2,
                   help="shifted copies per kept combination (default 2)")
    p.add_argument("--reach", type=int, default=2, help="largest shift in px (default 2)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                   help="change the demo config's Fonts, e.g. dataset.options.letters=A-E")
    args = p.parse_args(argv)
    n = make_nongrid(args.out, coverage=args.coverage, instances=args.instances,
                     reach=args.reach, seed=args.seed, overrides=tuple(args.overrides))
    print(f"wrote {n} images and {Path(args.out) / 'labels.csv'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
