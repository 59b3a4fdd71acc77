"""`groupsup demo` end to end with a short budget (slow: about 3 minutes on 2 cores)."""

import json

import pytest

from groupsup.cli import main


@pytest.mark.slow
def test_demo_writes_the_sheet_metrics_and_report(tmp_path):
    out = tmp_path / "demo"
    assert main(["demo", "--budget", "150", "--out", str(out), "--extra-fonts", "0"]) == 0
    for name in ("synthesis.png", "reconstructions.png", "coprediction.png", "report.md",
                 "report.html", "metrics.json"):
        assert (out / name).is_file(), name
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["held_out_combinations"] > 0 and metrics["steps"] > 0
    assert set(metrics["swap_accuracy"]) == {"letter", "size", "font_color", "back_color",
                                             "font"}
    # background colour is the easiest block: it must transfer even after a short run
    assert metrics["swap_accuracy"]["back_color"] > 0.5
