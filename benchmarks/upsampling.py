"""Forward + backward time of the ``conv-small`` decoder's upsampling, three ways, against
its own transposed convolutions measured in the same run (docs/model.md, "Groups per step and
the rate's tail").

The decoder of the demo (32 px: 128 x 4 x 4 -> 64 x 8 x 8 -> 32 x 16 x 16 -> 3 x 32 x 32, batch
normalisation and ReLU between) is built with each way of doubling the side:

- ``transposed``: ``ConvTranspose2d(k=4, stride=2, padding=1)`` (what ``conv-small`` uses; the
  baseline);
- ``subpixel``: a 3x3 convolution to 4x the channels, then ``PixelShuffle(2)`` (Shi et al.
  2016; covers every 4x4 stride-2 transposed convolution);
- ``upsample``: nearest-neighbour upsampling, then a 3x3 convolution;

and each is timed on one decode call of the demo's step (136 codes at 8 groups per step: 48
reconstructions, 80 swaps, 8 covers; 68 at the demo's 4), contiguous and channels-last.
Printed: ms per forward + backward and the ratio to the baseline. Only a quiet machine gives
meaningful numbers.

    python benchmarks/upsampling.py                       # batch 136, 2 threads
    python benchmarks/upsampling.py --batch 68 --threads 1 --repeats 20
    python benchmarks/upsampling.py --quick --json        # tiny, for the test suite
"""

from __future__ import annotations

import argparse
import itertools
import json
import sys
import time
from typing import Any

import torch
from torch import nn

WAYS = ("transposed", "subpixel", "upsample")


def upsampler(way: str, c_in: int, c_out: int) -> nn.Module:
    """A module doubling the side of ``(B, c_in, H, W)`` to ``(B, c_out, 2H, 2W)``."""
    if way == "transposed":
        return nn.ConvTranspose2d(c_in, c_out, 4, stride=2, padding=1, bias=False)
    if way == "subpixel":
        return nn.Sequential(nn.Conv2d(c_in, 4 * c_out, 3, padding=1, bias=False),
                             nn.PixelShuffle(2))
    if way == "upsample":
        return nn.Sequential(nn.Upsample(scale_factor=2, mode="nearest"),
                             nn.Conv2d(c_in, c_out, 3, padding=1, bias=False))
    raise ValueError(f"unknown way {way!r}; known: {', '.join(WAYS)}")


def decoder(way: str, widths: tuple[int, ...] = (128, 64, 32), channels: int = 3) -> nn.Module:
    """``conv-small``'s decoder body with *way* for every doubling."""
    layers: list[nn.Module] = []
    for c_in, c_out in itertools.pairwise(widths):
        layers += [upsampler(way, c_in, c_out), nn.BatchNorm2d(c_out), nn.ReLU(inplace=True)]
    layers += [upsampler(way, widths[-1], channels), nn.Tanh()]
    return nn.Sequential(*layers)


def time_one(model: nn.Module, x: torch.Tensor, repeats: int, warmup: int) -> float:
    """Mean seconds of one forward + backward of *model* on *x*."""
    for _ in range(warmup):
        model(x).square().mean().backward()
    start = time.perf_counter()
    for _ in range(repeats):
        model(x).square().mean().backward()
    return (time.perf_counter() - start) / repeats


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--batch", type=int, default=136, help="codes per decode (demo: 136)")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=40)
    parser.add_argument("--warmup", type=int, default=5)
    parser.add_argument("--quick", action="store_true", help="tiny sizes (tests)")
    parser.add_argument("--json", action="store_true", help="print the report as JSON")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    widths, side = ((16, 8), 4) if args.quick else ((128, 64, 32), 4)
    batch, repeats, warmup = (4, 2, 1) if args.quick else (args.batch, args.repeats,
                                                          args.warmup)
    rows = []
    for way in WAYS:
        for channels_last in (False, True):
            model = decoder(way, widths)
            x = torch.randn(batch, widths[0], side, side)
            if channels_last:
                model = model.to(memory_format=torch.channels_last)
                x = x.contiguous(memory_format=torch.channels_last)
            seconds = time_one(model, x, repeats, warmup)
            rows.append({"way": way, "channels_last": channels_last, "ms": seconds * 1e3})
    base = rows[0]["ms"]
    for row in rows:
        row["ratio_to_transposed"] = row["ms"] / base
    report = {"batch": batch, "threads": args.threads, "widths": list(widths),
              "output_side": side * 2 ** len(widths), "rows": rows}
    if args.json:
        print(json.dumps(report, indent=2))
    else:
        print(f"decoder forward + backward, batch {batch}, {args.threads} threads, "
              f"{report['output_side']} px output; baseline: transposed convolutions")
        for row in rows:
            layout = "channels-last" if row["channels_last"] else "contiguous"
            print(f"  {row['way']:<11} {layout:<14} {row['ms']:8.2f} ms   "
                  f"x{row['ratio_to_transposed']:.2f}")
    return report


if __name__ == "__main__":
    main()
    sys.exit(0)
