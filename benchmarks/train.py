"""Steady-state training throughput of the whole loop, and the loop's own overhead.

For each backbone and image size, a Fonts-style dataset (5 attributes, centre-cover groups of 6
images) is written as a memory-mapped store and trained through ``groupsup.Trainer`` exactly
as ``groupsup train`` does: data loading, logging every 10 steps, one sample sheet and one
checkpoint at the end included. Reported per run:

- groups/s and images/s over the timed steps (after warm-up steps);
- the share of wall time spent outside ``train_step`` (data, logging, samples, checkpoints):
  the loop overhead, target < 5 %;
- achieved GFLOP/s of the step and its fraction of a float32 matmul peak measured in the same
  process (the baseline).

    python benchmarks/train.py            # conv-small and gzsnet at 32 and 64 px
    python benchmarks/train.py --quick    # conv-small only, fewer steps
    python benchmarks/train.py --json
    python benchmarks/train.py --quick --groups 4 --amp   # + each run under bf16 autocast

``--amp`` trains every run a second time with ``train.amp = "bf16"`` in the same process and
prints its groups/s relative to the fp32 run: the step benchmark's bf16 gain measured through
the whole loop (forced where the CPU emulates bf16, to measure it there too; the header names
the CPU and its flags).
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

import groupsup as gs
from groupsup.machine import describe, machine

sys.path.insert(0, str(Path(__file__).parent))
from step import matmul_peak


class FontsLike(gs.Schema):
    letter = gs.Attribute(values=list("ABCD"), latent=20)
    size = gs.Attribute(values=["small", "medium", "large"], latent=20)
    font_color = gs.Attribute(values=list("rgbc"), latent=20)
    back_color = gs.Attribute(values=list("wxyz"), latent=20)
    font = gs.Attribute(values=["f1", "f2", "f3"], latent=20)


def make_store(root: Path, side: int) -> Path:
    grid = np.stack(np.meshgrid(*[range(len(a.values)) for a in FontsLike.attributes],
                                indexing="ij"), -1).reshape(-1, len(FontsLike))
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, size=(len(grid), side, side, 3), dtype=np.uint8)
    data = gs.GroupDataset.from_arrays(FontsLike, images, grid, name=f"fonts-like-{side}")
    return data.write_store(root / f"store-{side}")


def run(backbone: str, side: int, groups: int, steps: int, warmup: int, root: Path,
        amp: str = "off") -> dict[str, Any]:
    store = make_store(root, side)
    options = {"width": 32, "max_width": 128} if backbone == "conv-small" else {}
    config = gs.load_config({
        "name": f"{backbone}-{side}", "seed": 0,
        "dataset": {"name": "store", "options": {"path": str(store)}},
        "model": {"backbone": backbone, "options": options},
        "train": {"steps": warmup + steps, "groups_per_step": groups, "log_every": 10,
                  "sample_every": warmup + steps, "checkpoint_every": warmup + steps,
                  "progress": False, "amp": amp, "force_amp": amp != "off",
                  "out": str(root / f"run-{backbone}-{side}-{amp}")},
    })
    trainer = gs.Trainer(config)
    inner = trainer.train_step
    step_times: list[float] = []
    marks: dict[str, float] = {}

    def timed_step(images: torch.Tensor, batch: gs.GroupBatch) -> dict[str, float]:
        if trainer.state.step == warmup:
            marks["start"] = time.perf_counter()
        start = time.perf_counter()
        out = inner(images, batch)
        if trainer.state.step > warmup:
            step_times.append(time.perf_counter() - start)
        return out

    trainer.train_step = timed_step
    result = trainer.fit()
    wall = time.perf_counter() - marks["start"]
    # FLOPs of one step, counted on a fresh batch of the same structure
    from torch.utils.flop_counter import FlopCounterMode

    _, batch, images = trainer.loader().load(0)
    with FlopCounterMode(display=False) as counter:
        trainer.state.recipe.compute(trainer.state.model, images, batch).total.backward()
    trainer.state.model.zero_grad(set_to_none=True)
    step = float(np.median(step_times))
    images_per_step = len(batch.examples)
    params = sum(p.numel() for p in trainer.state.model.parameters())
    return {"backbone": backbone, "side": side, "groups_per_step": groups, "amp": amp,
            "params_m": params / 1e6, "steps": len(step_times),
            "groups_per_s": groups * len(step_times) / wall,
            "images_per_s": images_per_step * len(step_times) / wall,
            "step_s": step, "overhead": 1 - sum(step_times) / wall,
            "gflops_per_s": counter.get_total_flops() / step / 1e9,
            "final_step": result.step}


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="conv-small only, fewer steps")
    parser.add_argument("--groups", type=int, default=8, help="groups per step")
    parser.add_argument("--steps", type=int, default=None,
                        help="timed steps of every run (default: per backbone)")
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--amp", action="store_true",
                        help="also train every run under bf16 autocast, same process")
    args = parser.parse_args(argv)
    torch.manual_seed(0)
    peak = matmul_peak(time.perf_counter)
    plan = [("conv-small", 32, 30), ("conv-small", 64, 20)]
    if not args.quick:
        plan += [("gzsnet", 32, 6), ("gzsnet", 64, 4)]
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for backbone, side, steps in plan:
            if args.steps is not None:
                steps = args.steps
            elif args.quick:
                steps = max(5, steps // 3)
            for amp in ("off", "bf16") if args.amp else ("off",):
                rows.append(run(backbone, side, args.groups, steps, warmup=2, root=Path(tmp),
                                amp=amp))
    for row in rows:
        row["peak_fraction"] = row["gflops_per_s"] / peak
    report = {"torch": torch.__version__, "threads": torch.get_num_threads(), "cpu": machine(),
              "matmul_peak_gflops": peak, "runs": rows}
    if args.json:
        print(json.dumps(report, indent=2))
        return report
    print(describe(report["cpu"]))
    print(f"float32 matmul peak (baseline, this process): {peak:.1f} GFLOP/s, "
          f"{torch.get_num_threads()} threads")
    print(f"{'backbone':<11}{'px':>4}{'amp':>5}{'params M':>10}{'groups/s':>10}"
          f"{'images/s':>10}{'step s':>8}{'GFLOP/s':>9}{'of peak':>9}{'overhead':>10}"
          f"{'vs fp32':>9}")
    fp32 = {(r["backbone"], r["side"]): r["groups_per_s"] for r in rows if r["amp"] == "off"}
    for r in rows:
        ratio = r["groups_per_s"] / fp32[(r["backbone"], r["side"])]
        print(f"{r['backbone']:<11}{r['side']:>4}{r['amp']:>5}{r['params_m']:>10.2f}"
              f"{r['groups_per_s']:>10.2f}{r['images_per_s']:>10.1f}{r['step_s']:>8.3f}"
              f"{r['gflops_per_s']:>9.1f}{r['peak_fraction']:>9.0%}{r['overhead']:>10.1%}"
              f"{ratio:>8.2f}x")
    return report


if __name__ == "__main__":
    main()
