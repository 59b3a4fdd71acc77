"""One training step of Fonts-style groups: batched recipe vs the per-term way, and GFLOP/s.

A Fonts-style group is a centre plus one partner per attribute (6 images, 5 attributes, z =
100 in blocks of 20): 6 recon + 10 swap + 1 cover decodes. Two implementations of the same
step (forward, backward, Adam) run in the same process on the same images:

- batched: ``LossRecipe.compute`` (one encoder call over all images, one decoder call for
  every term's codes), with the model's ``micro_batch`` (default 32: on CPU, calls of
  hundreds of images run faster in cache-sized chunks);
- per-term: the reference code's way: one encoder call per image role, one decoder call per
  loss term (17 per step), each term's L1 mean summed.

Achieved GFLOP/s counts the convolution and matmul FLOPs of forward + backward
(``torch.utils.flop_counter``) and divides by the batched step's time; the peak is a float32
matmul measured in the same run. Times are the best of ``--repeats`` steps after one warm-up
step (the machine may be shared; the best is the least disturbed). ``--clock cpu`` times with
the process's CPU time instead of the wall clock: with ``--threads 1`` on a busy machine that
measures the work itself, not the waits for a core.

    python benchmarks/step.py                          # table
    python benchmarks/step.py --json                   # machine-readable
    python benchmarks/step.py --threads 1 --clock cpu  # per-core efficiency on a busy machine
    python benchmarks/step.py --quick                  # conv-small at 32 px only
    python benchmarks/step.py --quick --precision      # + fp32 vs bf16 autocast, same run

``--precision`` also times the batched step under ``torch.autocast("cpu", bfloat16)`` and
with channels-last memory, beside the eager fp32 step of the same model and images, and
prints each one's steps/s ratio to fp32: whether bf16 pays depends on the CPU (native on AMX
and AVX512-BF16, emulated elsewhere), so the header names the CPU and its flags
(``groupsup.machine``).
"""

from __future__ import annotations

import argparse
import json
import platform
import time
from collections.abc import Callable
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch.utils.flop_counter import FlopCounterMode

import groupsup as gs
from groupsup.machine import describe, machine

ATTRIBUTES = ("letter", "size", "font_color", "back_color", "font")
ROLES = len(ATTRIBUTES) + 1  # centre + one partner per attribute

# (backbone, image side, groups per step): sized so the whole run takes a few minutes on 2
# CPU cores; gzsnet at 64 px is ~57 GFLOP per group and step.
DEFAULT_RUNS: tuple[tuple[str, int, int], ...] = (
    ("conv-small", 32, 4), ("conv-small", 32, 32),
    ("conv-small", 64, 4), ("conv-small", 64, 32),
    ("gzsnet", 32, 4), ("gzsnet", 32, 16),
    ("gzsnet", 64, 4),
)
CLOCKS: dict[str, Callable[[], float]] = {"wall": time.perf_counter, "cpu": time.process_time}
QUICK_RUNS: tuple[tuple[str, int, int], ...] = (("conv-small", 32, 4), ("conv-small", 32, 32))

Fonts = gs.Schema.define("Fonts", [gs.Attribute(name=n, latent=20) for n in ATTRIBUTES])


def centre_cover_batch(groups: int) -> gs.GroupBatch:
    """``groups`` groups laid out group by group: position ``6g`` is a centre, ``6g+1+j`` its
    partner for attribute j."""
    base = np.arange(groups)[:, None] * ROLES
    partners = base + 1 + np.arange(len(ATTRIBUTES))
    pairs = np.stack([np.broadcast_to(base, partners.shape), partners], -1).reshape(-1, 2)
    return gs.GroupBatch(
        examples=np.arange(groups * ROLES), swap_pairs=pairs,
        swap_attribute=np.tile(np.arange(len(ATTRIBUTES)), groups),
        cover_target=base[:, 0], cover_providers=partners, groups=groups)


def adam(model: torch.nn.Module) -> torch.optim.Optimizer:
    """Adam with the fused kernel where this torch build has it for the model's device."""
    try:
        return torch.optim.Adam(model.parameters(), lr=1e-4, fused=True)
    except (RuntimeError, TypeError, ValueError):
        return torch.optim.Adam(model.parameters(), lr=1e-4)


def batched_loss(model: gs.SwapAutoencoder, images: torch.Tensor, batch: gs.GroupBatch,
                 recipe: gs.LossRecipe) -> torch.Tensor:
    return recipe.compute(model, images, batch).total


def per_term_loss(model: gs.SwapAutoencoder, images: torch.Tensor, batch: gs.GroupBatch,
                  recipe: gs.LossRecipe) -> torch.Tensor:
    """The reference code's step: encode per role, decode once per loss term."""
    roles = images.unflatten(0, (batch.groups, ROLES)).transpose(0, 1)  # (6, G, C, H, W)
    codes = [model.encode(roles[r]) for r in range(ROLES)]
    partition = model.partition
    terms = [F.l1_loss(model.decode(codes[r]), roles[r]) for r in range(ROLES)]
    for j, name in enumerate(ATTRIBUTES):
        z_c, z_p = partition.swap(codes[0], codes[1 + j], name)
        terms.append(F.l1_loss(model.decode(z_c), roles[0]))
        terms.append(F.l1_loss(model.decode(z_p), roles[1 + j]))
    cover = partition.compose({name: codes[1 + j] for j, name in enumerate(ATTRIBUTES)})
    terms.append(F.l1_loss(model.decode(cover), roles[0]))
    return torch.stack(terms).sum()


def step_time(loss_fn: Callable[..., torch.Tensor], model: gs.SwapAutoencoder,
              images: torch.Tensor, batch: gs.GroupBatch, recipe: gs.LossRecipe,
              repeats: int, clock: Callable[[], float]) -> float:
    """Best time of one forward + backward + Adam step, after a warm-up step."""
    optimiser = adam(model)
    best = float("inf")
    for i in range(repeats + 1):
        start = clock()
        loss = loss_fn(model, images, batch, recipe)
        optimiser.zero_grad(set_to_none=True)
        loss.backward()
        optimiser.step()
        if i:
            best = min(best, clock() - start)
    return best


def step_flops(loss_fn: Callable[..., torch.Tensor], model: gs.SwapAutoencoder,
               images: torch.Tensor, batch: gs.GroupBatch, recipe: gs.LossRecipe) -> int:
    """Convolution and matmul FLOPs of forward + backward."""
    with FlopCounterMode(display=False) as counter:
        loss_fn(model, images, batch, recipe).backward()
    model.zero_grad(set_to_none=True)
    return counter.get_total_flops()


def matmul_peak(clock: Callable[[], float], size: int = 2048, repeats: int = 8) -> float:
    """Best float32 matmul GFLOP/s of this process's threads."""
    a, b = torch.randn(size, size), torch.randn(size, size)
    a @ b
    best = float("inf")
    for _ in range(repeats):
        start = clock()
        a @ b
        best = min(best, clock() - start)
    return 2 * size**3 / best / 1e9


def autocast_bf16(loss_fn: Callable[..., torch.Tensor]) -> Callable[..., torch.Tensor]:
    """*loss_fn* under bf16 autocast on the CPU (the loss itself comes back in float32)."""
    def wrapped(*args: Any) -> torch.Tensor:
        with torch.autocast("cpu", dtype=torch.bfloat16):
            return loss_fn(*args).float()
    return wrapped


def precision_times(backbone: str, side: int, groups: int, repeats: int,
                    clock: Callable[[], float], micro_batch: int | None) -> dict[str, float]:
    """Seconds per batched step: eager fp32, bf16 autocast, channels-last fp32, channels-last
    bf16; one model and image batch per memory format, the same seed."""
    times = {}
    for layout in ("contiguous", "channels_last"):
        torch.manual_seed(0)
        fmt = torch.channels_last if layout == "channels_last" else torch.contiguous_format
        model = gs.build_model(backbone, Fonts, (3, side, side),
                                   micro_batch=micro_batch).to(memory_format=fmt)
        recipe = gs.build_recipe("gsl")
        batch = centre_cover_batch(groups)
        images = (torch.rand(groups * ROLES, 3, side, side) * 2 - 1).contiguous(
            memory_format=fmt)
        prefix = "" if layout == "contiguous" else "channels_last_"
        times[f"{prefix}fp32_s"] = step_time(batched_loss, model, images, batch, recipe,
                                             repeats, clock)
        times[f"{prefix}bf16_s"] = step_time(autocast_bf16(batched_loss), model, images, batch,
                                             recipe, repeats, clock)
    return times


def run(backbone: str, side: int, groups: int, repeats: int, channels_last: bool,
        clock: Callable[[], float], micro_batch: int | None) -> dict[str, Any]:
    torch.manual_seed(0)
    model = gs.build_model(backbone, Fonts, (3, side, side), micro_batch=micro_batch)
    fmt = torch.channels_last if channels_last else torch.contiguous_format
    model = model.to(memory_format=fmt)
    recipe = gs.build_recipe("gsl")
    batch = centre_cover_batch(groups)
    images = (torch.rand(groups * ROLES, 3, side, side) * 2 - 1).contiguous(memory_format=fmt)
    one = centre_cover_batch(1)
    flops_per_group = step_flops(batched_loss, model, images[:ROLES], one, recipe)
    per_term_flops = step_flops(per_term_loss, model, images[:ROLES], one, recipe)
    batched = step_time(batched_loss, model, images, batch, recipe, repeats, clock)
    per_term = step_time(per_term_loss, model, images, batch, recipe, repeats, clock)
    gflop = flops_per_group * groups / 1e9
    return {
        "backbone": backbone, "image": side, "groups": groups,
        "encodes": groups * ROLES, "decodes": groups * 17,
        "params_m": sum(p.numel() for p in model.parameters()) / 1e6,
        "gflop_per_step": gflop, "per_term_gflop_per_step": per_term_flops * groups / 1e9,
        "batched_s": batched, "per_term_s": per_term, "speedup": per_term / batched,
        "gflops": gflop / batched, "groups_per_s": groups / batched,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")
    parser.add_argument("--quick", action="store_true", help="conv-small at 32 px only")
    parser.add_argument("--repeats", type=int, default=2, help="timed steps per variant")
    parser.add_argument("--threads", type=int, default=None, help="torch threads")
    parser.add_argument("--channels-last", action="store_true",
                        help="model and images in channels_last memory format")
    parser.add_argument("--clock", choices=sorted(CLOCKS), default="wall",
                        help="wall clock, or this process's CPU time")
    parser.add_argument("--micro-batch", type=int, default=32,
                        help="run network calls in chunks of this many images (0: whole)")
    parser.add_argument("--precision", action="store_true",
                        help="also time bf16 autocast and channels-last against fp32")
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    clock = CLOCKS[args.clock]
    peak = matmul_peak(clock)
    rows = []
    for backbone, side, groups in QUICK_RUNS if args.quick else DEFAULT_RUNS:
        row = run(backbone, side, groups, args.repeats, args.channels_last, clock,
                  args.micro_batch or None)
        row["peak_fraction"] = row["gflops"] / peak
        if args.precision:
            row["precision"] = precision_times(backbone, side, groups, args.repeats, clock,
                                               args.micro_batch or None)
        rows.append(row)
        if not args.json:
            _print_row(row, header=len(rows) == 1, peak=peak, clock=args.clock,
                       micro_batch=args.micro_batch)
            if args.precision:
                _print_precision(row)
    if args.json:
        print(json.dumps({
            "torch": torch.__version__, "machine": platform.machine(), "cpu": machine(),
            "threads": torch.get_num_threads(), "channels_last": args.channels_last,
            "clock": args.clock, "repeats": args.repeats, "micro_batch": args.micro_batch,
            "matmul_peak_gflops": peak, "rows": rows}, indent=2))
    return 0


def _print_row(row: dict[str, Any], header: bool, peak: float, clock: str,
               micro_batch: int) -> None:
    if header:
        info = machine()
        print(f"{describe(info)}; native bf16: {'yes' if info['native_bf16'] else 'no'}")
        print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, {clock} clock, "
              f"micro-batch {micro_batch or 'off'}, float32 matmul peak {peak:.1f} GFLOP/s")
        print(f"{'backbone':<11}{'px':>4}{'groups':>7}{'params M':>9}{'GFLOP':>8}"
              f"{'batched s':>11}{'per-term s':>11}{'speedup':>8}{'GFLOP/s':>9}"
              f"{'% peak':>7}{'groups/s':>9}")
    print(f"{row['backbone']:<11}{row['image']:>4}{row['groups']:>7}{row['params_m']:>9.2f}"
          f"{row['gflop_per_step']:>8.1f}{row['batched_s']:>11.3f}{row['per_term_s']:>11.3f}"
          f"{row['speedup']:>7.2f}x{row['gflops']:>9.1f}{100 * row['peak_fraction']:>6.0f}%"
          f"{row['groups_per_s']:>9.2f}", flush=True)


def _print_precision(row: dict[str, Any]) -> None:
    t = row["precision"]
    base = t["fp32_s"]
    print("    same run, steps/s relative to eager fp32: "
          + ", ".join(f"{name.removesuffix('_s').replace('_', ' ')} {base / t[name]:.2f}x "
                      f"({t[name]:.3f} s)" for name in t), flush=True)


if __name__ == "__main__":
    raise SystemExit(main())
