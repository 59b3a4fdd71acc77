"""The benchmarks run end to end at a tiny scale, so they cannot rot."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
from scripts import load_script as load_script_at

BENCHMARKS = Path(__file__).resolve().parents[1] / "benchmarks"


def load(name: str):
    sys.path.insert(0, str(BENCHMARKS))  # train.py imports step.py as its neighbour
    try:
        return load_script_at(BENCHMARKS / f"{name}.py", f"{name}_benchmark")
    finally:
        sys.path.remove(str(BENCHMARKS))


def test_train_benchmark_runs_small(one_thread):
    report = load("train").main(["--quick", "--steps", "2", "--groups", "2", "--json"])
    assert [(r["backbone"], r["side"]) for r in report["runs"]] == [("conv-small", 32),
                                                                     ("conv-small", 64)]
    for run in report["runs"]:
        assert run["steps"] == 2 and run["groups_per_s"] > 0 and 0 <= run["overhead"] < 1
        assert 0 < run["peak_fraction"] < 2
    assert report["cpu"]["cpu"] and "native_bf16" in report["cpu"]


def test_train_benchmark_times_bf16_beside_fp32(one_thread, capsys):
    load("train").main(["--quick", "--steps", "1", "--groups", "2", "--amp"])
    lines = capsys.readouterr().out.splitlines()
    rows = [line.split() for line in lines if line.split()[:1] == ["conv-small"]]
    assert [(r[1], r[2]) for r in rows] == [("32", "off"), ("32", "bf16"), ("64", "off"),
                                            ("64", "bf16")]
    assert all(r[-1].endswith("x") for r in rows) and rows[0][-1] == "1.00x"


def test_explore_benchmark_runs_small(one_thread):
    """benchmarks/explore.py end to end at a tiny scale: its numbers mean nothing here."""
    report = load("explore").main(["--toy", "--size", "16", "--clients", "2", "--requests", "3",
                                   "--in-process", "--json"])
    assert report["served"]["requests"] == 6 and report["served"]["requests_per_s"] > 0
    assert 0 < report["baseline"]["p50_ms"] <= report["baseline"]["p95_ms"]
    assert report["meets_target"] is False  # 2 clients at 16 px measure no target
    assert json.loads(json.dumps(report))["clients"] == 2  # the --json report is plain JSON


def test_upsampling_benchmark_runs_small(one_thread):
    """benchmarks/upsampling.py end to end at a tiny scale: three ways, two layouts, each
    against the transposed convolutions of the same run."""
    report = load("upsampling").main(["--quick", "--threads", "1", "--json"])
    assert [(r["way"], r["channels_last"]) for r in report["rows"]] == [
        (w, cl) for w in ("transposed", "subpixel", "upsample") for cl in (False, True)]
    assert report["rows"][0]["ratio_to_transposed"] == 1.0
    assert all(r["ms"] > 0 for r in report["rows"]) and report["output_side"] == 16


GPU_EAGER = "fp32,bf16,channels_last,bf16_channels_last,per_term"


def test_gpu_benchmark_runs_tiny_on_the_cpu(one_thread):
    """benchmarks/gpu.py at a tiny scale on the CPU: every eager variant runs the same step
    and is reported against the first of the same run (the numbers mean nothing here)."""
    report = load("gpu").main(["--tiny", "--device", "cpu", "--variants", GPU_EAGER, "--json"])
    rows = {r["variant"]: r for r in report["rows"]}
    assert list(rows) == GPU_EAGER.split(",") and rows["fp32"]["ratio"] == 1.0
    assert all(r["images_per_s"] > 0 and r["peak_memory_gib"] is None for r in rows.values())
    # the same seed and images: the per-term and batched fp32 steps start from one loss
    # (batched `gsl` is a mean per term, per-term a sum of per-decode means: they differ, both
    # finite); bf16 is within bf16's precision of fp32
    assert abs(rows["bf16"]["loss"] - rows["fp32"]["loss"]) < 0.05 * abs(rows["fp32"]["loss"])
    assert rows["channels_last"]["loss"] == pytest.approx(rows["fp32"]["loss"], rel=1e-4)
    assert report["image"] == 32 and report["device"].startswith("cpu: ")


@pytest.mark.slow
def test_gpu_benchmark_compiles_the_step(one_thread):
    """torch.compile (inductor) on the CPU: about a minute of compilation on 2 cores."""
    report = load("gpu").main(["--tiny", "--device", "cpu", "--variants", "fp32,compile",
                               "--json"])
    fp32, compiled = report["rows"]
    assert compiled["compile_s"] > 0 and compiled["loss"] == pytest.approx(fp32["loss"],
                                                                          rel=1e-4)


def test_gpu_benchmark_refuses_an_unknown_variant():
    with pytest.raises(SystemExit):
        load("gpu").main(["--tiny", "--variants", "fp32,fp8"])
