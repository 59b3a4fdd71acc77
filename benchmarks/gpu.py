"""GZS-Net at the paper's scale: images/s and peak memory of one training step, per variant.

The reference network (``gzsnet``, 142.95 M parameters at 3x128x128) trains on Fonts-style
centre-cover groups (6 images, 5 attributes, z = 100 in blocks of 20; 6 recon + 10 swap + 1
cover decodes). Every variant runs the same step (forward, backward, Adam) on the same images
from a model seeded alike, in one process, and is reported beside the first (eager fp32,
batched losses) as a same-run ratio:

- ``fp32``: eager, the recipe batched (one encoder call, one decoder call per round);
- ``bf16``: the same under ``torch.autocast(bfloat16)`` (native on CUDA GPUs from Ampere on,
  and on CPUs with AMX or AVX512-BF16);
- ``channels_last`` and ``bf16_channels_last``: model and images in channels-last memory;
- ``compile``: the step's loss under ``torch.compile`` (inductor), fp32; its compile time is
  reported apart (``compile_s``) and the step is timed after it;
- ``per_term``: the reference code's way, one encoder call per image role and one decoder call
  per loss term (17 per step), fp32.

Peak memory is CUDA's ``max_memory_allocated`` per variant (reset before each); on a CPU it is
not measured (``null``). Times are the best of ``--repeats`` steps after a warm-up step, the
device synchronised around each.

    python benchmarks/gpu.py                         # 128 px, 4 groups, every variant, on cuda
    python benchmarks/gpu.py --groups 16 --json      # machine-readable
    python benchmarks/gpu.py --tiny                  # a narrow gzsnet at 32 px on the CPU: the
                                                     # pipeline only (the suite runs it)

No GPU figure has been recorded yet (docs/performance.md says so): where a GPU is at hand,
run the first line and record its output with the GPU named.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch

import groupsup as gs
from groupsup.machine import describe, machine

sys.path.insert(0, str(Path(__file__).resolve().parent))
from step import ROLES, Fonts, adam, batched_loss, centre_cover_batch, per_term_loss

sys.path.pop(0)

VARIANTS = ("fp32", "bf16", "channels_last", "bf16_channels_last", "compile", "per_term")
# a gzsnet narrow enough to run every variant on 2 CPU cores in seconds (pipeline check only)
TINY = {"image": 32, "groups": 1, "repeats": 1, "options": {"width": 8, "fc_width": 64}}


def device_of(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name == "cuda" and not torch.cuda.is_available():
        raise SystemExit("--device cuda: torch sees no CUDA device here")
    return torch.device(name)


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def _loss_fn(variant: str, device: torch.device) -> Callable[..., torch.Tensor]:
    if variant == "per_term":
        return per_term_loss
    if variant.startswith("bf16"):
        def autocast(*args: Any) -> torch.Tensor:
            with torch.autocast(device.type, dtype=torch.bfloat16):
                return batched_loss(*args).float()
        return autocast
    if variant == "compile":
        return torch.compile(batched_loss)
    return batched_loss


def measure(variant: str, image: int, groups: int, repeats: int, device: torch.device,
            options: dict[str, Any]) -> dict[str, Any]:
    """One variant: a fresh model seeded 0, the same images, warm-up then the best step."""
    torch.manual_seed(0)
    layout = torch.channels_last if "channels_last" in variant else torch.contiguous_format
    model = gs.build_model("gzsnet", Fonts, (3, image, image),
                               backbone_config=options).to(device, memory_format=layout)
    recipe = gs.build_recipe("gsl")
    batch = centre_cover_batch(groups)
    generator = torch.Generator().manual_seed(1)
    images = (torch.rand(groups * ROLES, 3, image, image, generator=generator) * 2 - 1)
    images = images.to(device).contiguous(memory_format=layout)
    loss_fn = _loss_fn(variant, device)
    optimiser = adam(model)
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
    times = []
    for _ in range(repeats + 1):
        _sync(device)
        start = time.perf_counter()
        loss = loss_fn(model, images, batch, recipe)
        optimiser.zero_grad(set_to_none=True)
        loss.backward()
        optimiser.step()
        _sync(device)
        times.append(time.perf_counter() - start)
    step = min(times[1:])
    return {"variant": variant, "step_s": step, "images_per_s": groups * ROLES / step,
            "first_step_s": times[0],
            "compile_s": times[0] - step if variant == "compile" else None,
            "peak_memory_gib": (torch.cuda.max_memory_allocated(device) / 2**30
                                if device.type == "cuda" else None),
            "loss": float(loss.detach())}


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--image", type=int, default=128, help="image side (default 128)")
    parser.add_argument("--groups", type=int, default=4, help="groups per step (default 4)")
    parser.add_argument("--repeats", type=int, default=3, help="timed steps per variant")
    parser.add_argument("--device", choices=("auto", "cuda", "cpu"), default="auto")
    parser.add_argument("--variants", default=",".join(VARIANTS),
                        help=f"comma-separated, the first is the baseline ({','.join(VARIANTS)})")
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads")
    parser.add_argument("--tiny", action="store_true",
                        help="a narrow gzsnet at 32 px, 1 group, 1 repeat (pipeline check)")
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")
    args = parser.parse_args(argv)
    variants = [v.strip() for v in args.variants.split(",") if v.strip()]
    unknown = sorted(set(variants) - set(VARIANTS))
    if unknown or not variants:
        parser.error(f"--variants: unknown {unknown or 'none given'}; choose from {VARIANTS}")
    if args.threads:
        torch.set_num_threads(args.threads)
    device = device_of(args.device)
    image, groups, repeats, options = args.image, args.groups, args.repeats, {}
    if args.tiny:
        image, groups, repeats, options = (TINY["image"], TINY["groups"], TINY["repeats"],
                                           TINY["options"])
    rows = []
    for variant in variants:
        row = measure(variant, image, groups, repeats, device, options)
        row["ratio"] = rows[0]["step_s"] / row["step_s"] if rows else 1.0
        rows.append(row)
        if not args.json:
            _print(row, header=len(rows) == 1, device=device, image=image, groups=groups)
    report = {"device": _device_name(device), "cpu": machine(), "torch": torch.__version__,
              "threads": torch.get_num_threads(), "image": image, "groups": groups,
              "repeats": repeats, "tiny": args.tiny, "backbone_options": options,
              "rows": rows}
    if args.json:
        print(json.dumps(report, indent=2))
    return report


def _device_name(device: torch.device) -> str:
    if device.type == "cuda":
        return f"cuda: {torch.cuda.get_device_name(device)}"
    return f"cpu: {describe(machine())}"


def _print(row: dict[str, Any], header: bool, device: torch.device, image: int,
           groups: int) -> None:
    if header:
        print(f"{_device_name(device)}; torch {torch.__version__}; gzsnet at {image} px, "
              f"{groups} groups of {ROLES} images per step")
        print(f"{'variant':<20}{'step s':>9}{'images/s':>10}{'vs fp32':>9}{'peak GiB':>10}"
              f"{'compile s':>11}")
    peak = "-" if row["peak_memory_gib"] is None else f"{row['peak_memory_gib']:.2f}"
    comp = "-" if row["compile_s"] is None else f"{row['compile_s']:.1f}"
    print(f"{row['variant']:<20}{row['step_s']:>9.3f}{row['images_per_s']:>10.1f}"
          f"{row['ratio']:>8.2f}x{peak:>10}{comp:>11}", flush=True)


if __name__ == "__main__":
    main()
