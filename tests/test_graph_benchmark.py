"""benchmarks/graph.py runs end to end at a tiny scale, so the benchmark cannot rot."""

from __future__ import annotations

from pathlib import Path

from scripts import load_script as load_script_at

BENCHMARK = Path(__file__).resolve().parents[1] / "benchmarks" / "graph.py"


def test_graph_benchmark_runs_small(capsys):
    module = load_script_at(BENCHMARK, "graph_benchmark")
    results = module.main(["--fonts", "2", "--draws", "2000", "--groups", "500",
                           "--subset", "150", "--baseline-draws", "100", "--repeat", "1",
                           "--relation-nodes", "3000", "--relation-edges", "6000",
                           "--relation-baseline", "1000"])
    assert results["full_grid"]["nodes"] == 52 * 3 * 90 * 2
    assert results["full_grid"]["admissible_exact"] == results["full_grid"]["nodes"]
    assert results["networkx"]["nodes"] == 150 and results["ratios"]["bytes_per_edge"] > 1
    relations = results["relations"]
    assert relations["same_classes_as_networkx"] and 0 < relations["classes"] <= 1500
    out = capsys.readouterr().out
    assert "naive networkx MultiGraph on 150 nodes" in out and "relations: 3,000 examples" in out
