"""``groupsup reproduce fonts --quick``: five configs, the augmentation, one report (~15 s)."""

import json

import pytest
import torch

from groupsup.cli import main


@pytest.fixture
def fonts_cache(tmp_path, monkeypatch):
    """Renders go to a per-test cache, not the user's ~/.cache."""
    monkeypatch.setenv("GROUPSUP_CACHE", str(tmp_path / "cache"))
    threads = torch.get_num_threads()
    yield
    torch.set_num_threads(threads)


def test_quick_reproduction_writes_one_report(tmp_path, fonts_cache, capsys):
    out = tmp_path / "reproduce"
    argv = ["reproduce", "fonts", "--quick", "--budget-per-config", "1", "--threads", "1",
            "--out", str(out)]
    assert main(argv) == 0
    document = json.loads((out / "reproduce.json").read_text())
    assert document["status"] == "done" and document["budget_per_config"] == 1.0
    assert [r["name"] for r in document["compare"]] == ["gzsnet", "no-swap", "no-cover",
                                                        "ae-ds", "beta-vae"]
    assert set(document["augmentation"]) == {"real", "standard", "gsl"}
    assert document["machine"]["cpu_count"] > 0 and document["machine"]["torch_threads"] == 1
    assert set(document["stages"]) == {"compare", "augmentation", "total"}
    # every config ran on the paper's held-out protocol split
    for name in ("gzsnet", "beta-vae"):
        config = json.loads((out / "configs" / f"{name}.json").read_text())
        assert config["dataset"]["split"] == "protocol"
    report = (out / "report.md").read_text()
    for needle in ("groupsup reproduce fonts --quick", "2 CPUs" if document["machine"][
            "cpu_count"] == 2 else "CPUs", "held-out MSE", "PSNR (dB)", "SSIM",
            "beta-vae (searched partition)", "| no-cover | gsl-no-cover |", "| gsl | ",
            "swap accuracy", "leakage", "Diagonal mean", "![synthesis", "![co-prediction",
            "train only on size in ['medium']", "| augmentation |", "| total |"):
        assert needle in report, needle
    for sheet in ("synthesis.png", "coprediction.png", "leakage.png"):
        assert (out / sheet).is_file()
    html = (out / "report.html").read_text()
    assert html.count("data:image/png;base64") >= 3 and "missing image" not in html

    # a second run refuses to replace the report unless told to
    assert main(argv) == 1
    assert "--overwrite" in capsys.readouterr().err
    assert (out / "report.md").read_text() == report


def test_reproduce_never_removes_a_folder_it_did_not_write(tmp_path, fonts_cache, capsys):
    out = tmp_path / "mine"
    out.mkdir()
    (out / "notes.txt").write_text("keep")
    assert main(["reproduce", "fonts", "--quick", "--overwrite", "--out", str(out)]) == 1
    assert "not written by `groupsup reproduce`" in capsys.readouterr().err
    assert (out / "notes.txt").read_text() == "keep"


def test_reproduce_configs_are_the_compare_examples_on_the_protocol_split():
    from pathlib import Path

    from groupsup_fonts.reproduce import comparison_base, variant_configs

    import groupsup as gs

    root = Path(__file__).resolve().parents[3] / "examples" / "fonts" / "compare"
    protocol = ["dataset.split=protocol", "train.out=OUT"]
    built = variant_configs(gs.load_config(comparison_base(), protocol).to_dict())
    assert list(built) == ["gzsnet", "no-swap", "no-cover", "ae-ds", "beta-vae"]
    for name, config in built.items():
        assert gs.load_config(config).to_dict() == gs.load_config(
            root / f"{name}.toml", protocol).to_dict(), name


def test_reproduce_names_the_missing_baselines_plugin(tmp_path, fonts_cache, monkeypatch,
                                                      capsys):
    import sys

    monkeypatch.setitem(sys.modules, "groupsup_baselines.compare", None)
    assert main(["reproduce", "fonts", "--quick", "--out", str(tmp_path / "o")]) == 1
    assert "needs the groupsup-baselines plugin" in capsys.readouterr().err
    assert not (tmp_path / "o").exists()
