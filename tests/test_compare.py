"""``groupsup compare``: two tiny configs under a one-second budget -> compare.md/json + plots."""

import json

import torch
from test_report import tiny_config

from groupsup.cli import main

torch.set_num_threads(1)


def write_config(path, config):
    path.write_text(json.dumps(config.to_dict()))
    return path


def test_compare_trains_evaluates_and_tabulates(tmp_path, toy_dataset):
    store = toy_dataset.write_store(tmp_path / "store")
    gsl = write_config(tmp_path / "gsl.json", tiny_config(tmp_path, store))
    vae = write_config(tmp_path / "beta-vae.json", tiny_config(
        tmp_path, store, "beta-vae", loss__recipe="beta-vae", model__backbone="vae",
        model__options={"inner": "conv-small", "inner_options": {"width": 8, "max_width": 16}}))
    out = tmp_path / "cmp"
    assert main(["compare", str(gsl), str(vae), "--budget", "1", "--out", str(out),
                 "--set", "train.steps=1000", "--classifier-budget", "1",
                 "--max-examples", "16"]) == 0
    document = json.loads((out / "compare.json").read_text())
    assert [r["name"] for r in document["rows"]] == ["gsl", "beta-vae"]
    assert [r["searched_partition"] for r in document["rows"]] == [False, True]
    assert document["budget_seconds"] == 1.0
    assert document["configs"]["beta-vae"]["train"]["time_budget"] == 1.0
    assert document["configs"]["gsl"]["train"]["out"] == str(out / "gsl")
    assert all(r["steps"] < 1000 for r in document["rows"])
    table = (out / "compare.md").read_text()
    assert "| gsl | conv-small | gsl |" in table and "beta-vae (searched partition)" in table
    for key in ("psnr", "ssim", "mse", "swap_accuracy", "leakage", "coprediction_diagonal",
                "coprediction_off_diagonal"):
        assert (out / f"compare-{key}.png").is_file()
    assert table.index("swap accuracy (mean)") < table.index("leakage") < table.index("SSIM")
    assert table.index("held-out PSNR") < table.index("held-out MSE")
    assert all(r["mse"] > 0 for r in document["rows"])
    assert all(0 <= r["leakage"] <= 1 and r["judge_accuracy"] > 0 for r in document["rows"])
    search = json.loads((out / "beta-vae" / "eval" / "partition_search.json").read_text())
    assert sum(search["partition"].values()) == 12
    assert (out / "beta-vae" / "eval" / "report.html").is_file()


def test_compare_rejects_configs_with_one_name(tmp_path):
    (tmp_path / "a").mkdir()
    (tmp_path / "a" / "x.toml").write_text("")
    (tmp_path / "x.toml").write_text("")
    assert main(["compare", str(tmp_path / "x.toml"), str(tmp_path / "a" / "x.toml"),
                 "--budget", "1", "--out", str(tmp_path / "o")]) == 1


def test_fonts_compare_configs_derive_from_the_demo_config():
    from pathlib import Path

    from groupsup.train.config import read_config_file

    root = Path(__file__).resolve().parents[1] / "examples" / "fonts"
    demo = read_config_file(root / "demo.toml")
    changes = {
        "gzsnet": {},
        "no-swap": {("loss", "recipe"): "gsl-no-swap"},
        "no-cover": {("loss", "recipe"): "gsl-no-cover"},
        "ae-ds": {("loss", "recipe"): "ae-ds"},
        "beta-vae": {("loss", "recipe"): "beta-vae", ("model", "backbone"): "vae",
                     ("model", "options"): {"inner": "conv-small",
                                            "inner_options": demo["model"]["options"]}},
    }
    assert sorted(p.stem for p in (root / "compare").glob("*.toml")) == sorted(changes)
    for name, changed in changes.items():
        expected = json.loads(json.dumps(demo))
        expected["name"] = f"fonts-{name}"
        expected["train"]["out"] = "runs/compare/RUN"
        for (section, key), value in changed.items():
            expected[section][key] = value
        assert read_config_file(root / "compare" / f"{name}.toml") == expected, name
