"""Fonts rendering throughput: images/s by canvas size, layout and process count.

Renders with matplotlib's fonts (so it runs on any machine) into a temporary folder:

- ``memory``: rendering alone (glyph masks once per font and process, numpy colouring), no
  output, 1 and 2 worker processes, at 32, 64 and 128 px;
- ``store``: the compact layout (the same plus memory-mapped writes to disk);
- ``folder``: the released layout (one PNG per image, written atomically), 32 px;
- ``naive``: the baseline, one Pillow ``ImageDraw.text`` call per image (1 process), which
  is what rendering without the mask cache costs.

Prints images per wall-clock second and per CPU second (what one core delivers when the
machine is shared), the wall-clock ratio to the baseline, and the projected wall time for the
full Fonts set (52 letters x 3 sizes x 90 colour pairs x 100 fonts = 1,404,000 images) at
that rate; ``--json`` prints the same as JSON.

    python benchmarks/render.py [--json] [--sizes 32,64,128] [--workers 1,2]
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from groupsup_fonts import COLOURS, LETTERS, RenderPlan, discover_fonts, render_folder, render_store
from groupsup_fonts.glyphs import open_font
from PIL import Image, ImageDraw

FULL_SET = 52 * 3 * 90 * 100


def plan_for(faces: tuple, size: int, letters: int) -> RenderPlan:
    """All sizes and colour pairs of the first *letters* letters in *faces*."""
    return RenderPlan(faces, size, letters=LETTERS[:letters])


def cpu_seconds() -> float:
    """CPU time of this process and its finished children (worker pools)."""
    t = os.times()
    return t.user + t.system + t.children_user + t.children_system


def timed_render(layout: str, plan: RenderPlan, workers: int, folder: Path
                 ) -> tuple[float, float]:
    """Images per wall second and per CPU second of one render of *plan* (fresh folder)."""
    target = folder / f"{layout}-{plan.image_size}-{workers}"
    began, cpu = time.perf_counter(), cpu_seconds()
    if layout == "store":
        result = render_store(plan, target, workers=workers, progress=False)
    else:
        result = render_folder(plan, target, workers=workers, progress=False)
    seconds, cpu = time.perf_counter() - began, cpu_seconds() - cpu
    assert result.rendered == len(plan)
    return len(plan) / seconds, len(plan) / cpu


_state: tuple[RenderPlan, object] | None = None


def _start(plan: RenderPlan) -> None:
    global _state
    _state = (plan, plan.renderer())


def _render_chunk(chunk: int) -> int:
    plan, renderer = _state
    start, stop = plan.chunk_rows(chunk)
    renderer.render_indices(*plan.rows(start, stop).T)
    return stop - start


def memory_rate(plan: RenderPlan, workers: int) -> tuple[float, float]:
    """Images per wall and per CPU second rendering *plan* in memory (masks included)."""
    began, cpu = time.perf_counter(), cpu_seconds()
    if workers == 1:
        _start(plan)
        total = sum(map(_render_chunk, range(plan.chunks)))
    else:
        context = multiprocessing.get_context("fork")
        with context.Pool(workers, initializer=_start, initargs=(plan,)) as pool:
            total = sum(pool.imap_unordered(_render_chunk, range(plan.chunks)))
            pool.close()
            pool.join()
    return total / (time.perf_counter() - began), total / (cpu_seconds() - cpu)


def naive_rate(faces: tuple, size: int, count: int) -> tuple[float, float]:
    """Images per wall and CPU second drawing each image with Pillow (fonts loaded once)."""
    fonts = [open_font(face.path, face.index, round(size * 100 / 128)) for face in faces]
    colours = list(COLOURS.values())
    began, cpu = time.perf_counter(), cpu_seconds()
    for k in range(count):
        fg, bg = colours[k % 10], colours[(k // 10 + 1 + k) % 10]
        image = Image.new("RGB", (size, size), bg)
        ImageDraw.Draw(image).text((size / 2, size / 2), LETTERS[k % 52], fill=fg,
                                   font=fonts[k % len(fonts)], anchor="mm")
        np.asarray(image)
    return count / (time.perf_counter() - began), count / (cpu_seconds() - cpu)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")
    parser.add_argument("--sizes", default="32,64,128", help="canvas sizes, comma-separated")
    parser.add_argument("--workers", default="1,2", help="process counts, comma-separated")
    args = parser.parse_args(argv)
    sizes = [int(s) for s in args.sizes.split(",")]
    workers = [int(w) for w in args.workers.split(",")]
    faces = discover_fonts(system=False).select(4)
    rows = []
    with tempfile.TemporaryDirectory(prefix="groupsup-render-bench-") as tmp:
        for size in sizes:
            # Whole fonts (52 letters) where the output stays under ~100 MB, so glyph masks
            # (rasterised once per font and process) weigh as they do in a full render.
            memory_plan = plan_for(faces[:2], size, 52)
            store_plan = {32: memory_plan, 64: plan_for(faces[:2], 64, 13)}.get(
                size, plan_for(faces[:1], size, 13))
            baseline, baseline_cpu = naive_rate(faces, size, 2000)
            rows.append({"layout": "naive", "size": size, "workers": 1, "images": 2000,
                         "images_per_s": baseline, "images_per_cpu_s": baseline_cpu})
            runs = [("memory", memory_plan), ("store", store_plan)]
            if size == 32:
                runs.append(("folder", plan_for(faces[:1], 32, 13)))
            for layout, plan in runs:
                for count in workers:
                    rate, cpu_rate = memory_rate(plan, count) if layout == "memory" else \
                        timed_render(layout, plan, count, Path(tmp))
                    rows.append({"layout": layout, "size": size, "workers": count,
                                 "images": len(plan), "images_per_s": rate,
                                 "images_per_cpu_s": cpu_rate})
            for row in rows:
                if row["size"] == size:
                    row["vs_naive"] = row["images_per_s"] / baseline
                    row["full_set_minutes"] = FULL_SET / row["images_per_s"] / 60
    if args.json:
        print(json.dumps({"fonts": [f.name for f in faces], "full_set": FULL_SET,
                          "rows": rows}, indent=2))
        return 0
    print(f"fonts: {', '.join(f.name for f in faces)}; full set = {FULL_SET:,} images")
    print(f"{'layout':8s} {'size':>5s} {'procs':>5s} {'images':>7s} {'img/s':>9s} "
          f"{'img/CPU-s':>10s} {'x naive':>8s} {'full set':>10s}")
    for row in rows:
        print(f"{row['layout']:8s} {row['size']:5d} {row['workers']:5d} {row['images']:7d} "
              f"{row['images_per_s']:9.0f} {row['images_per_cpu_s']:10.0f} "
              f"{row['vs_naive']:8.1f} {row['full_set_minutes']:8.1f} min")
    return 0


if __name__ == "__main__":
    sys.exit(main())
