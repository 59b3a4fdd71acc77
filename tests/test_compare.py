"""``groupsup compare``: tiny configs under a one-second budget -> compare.md/json + plots; one
judge per dataset; learning curves; seeds."""

import importlib
import json
import os
from pathlib import Path

import pytest
import torch
from test_report import tiny_config

import groupsup as gs
from groupsup.cli import main

# the modules, not the functions of the same name their packages export
compare_module = importlib.import_module("groupsup_baselines.compare")
run_module = importlib.import_module("groupsup.runs.evaluate")
steps_module = importlib.import_module("groupsup.runs.builtin")

torch.set_num_threads(1)


def write_config(path, config):
    path.write_text(json.dumps(config.to_dict()))
    return path


VAE_OPTIONS = {"inner": "conv-small", "inner_options": {"width": 8, "max_width": 16}}


def count_judge_fits(monkeypatch) -> list[int]:
    """Count every judge fitted, by compare (through fit_shared_judge, in
    groupsup.runs.evaluate) or inside evaluate_run (the judge step, groupsup.runs.builtin)."""
    calls = []

    def counted(*args, original=run_module.fit_judge, **kwargs):
        calls.append(1)
        return original(*args, **kwargs)
    monkeypatch.setattr(run_module, "fit_judge", counted)
    monkeypatch.setattr(steps_module, "fit_judge", counted)
    return calls


def test_compare_trains_evaluates_and_tabulates(tmp_path, toy_dataset, monkeypatch):
    store = toy_dataset.write_store(tmp_path / "store")
    gsl = write_config(tmp_path / "gsl.json", tiny_config(tmp_path, store))
    vae = write_config(tmp_path / "beta-vae.json", tiny_config(
        tmp_path, store, "beta-vae", loss__recipe="beta-vae", model__backbone="vae",
        model__options=VAE_OPTIONS))
    ada = write_config(tmp_path / "ada-gvae.json", tiny_config(
        tmp_path, store, "ada-gvae", loss__recipe="ada-gvae", model__backbone="vae",
        model__options=VAE_OPTIONS, strategy__name="edge", strategy__options={"exact": False}))
    out = tmp_path / "cmp"
    fits = count_judge_fits(monkeypatch)
    assert main(["compare", str(gsl), str(vae), str(ada), "--budget", "1", "--out", str(out),
                 "--set", "train.steps=1000", "--classifier-budget", "1",
                 "--max-examples", "16"]) == 0
    document = json.loads((out / "compare.json").read_text())
    assert [r["name"] for r in document["rows"]] == ["gsl", "beta-vae", "ada-gvae"]
    assert [r["searched_partition"] for r in document["rows"]] == [False, True, True]
    # one judge for the dataset and split, read by every row
    assert len(fits) == 1 and document["judges_fitted"] == 1
    assert len({r["judge_accuracy"] for r in document["rows"]}) == 1
    assert "ada-gvae (searched partition)" in (out / "compare.md").read_text()
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
    metrics = json.loads((out / "ada-gvae" / "eval" / "metrics.json").read_text())
    assert metrics["evaluation"]["judge"] == "given"


@pytest.mark.slow
def test_compare_learning_curves_and_seeds(tmp_path, toy_dataset, monkeypatch):
    store = toy_dataset.write_store(tmp_path / "store")
    gsl = write_config(tmp_path / "gsl.json", tiny_config(tmp_path, store))
    out = tmp_path / "cmp"
    fits = count_judge_fits(monkeypatch)
    options = run_module.EvalOptions(max_examples=16, classifier_steps=5, leakage_examples=8,
                                     coprediction_examples=64)
    document = compare_module.compare(
        [gsl], budget=1.0, out=out, overrides=["train.steps=100000"], options=options,
        progress=False, curve_points=3, seeds=2)
    assert [r["name"] for r in document["rows"]] == ["gsl/seed-3", "gsl/seed-4"]
    assert len(fits) == 1
    for name, curve in document["curves"].items():
        assert [p["point"] for p in curve] == [1, 2, 3]
        steps, seconds = [p["step"] for p in curve], [p["seconds"] for p in curve]
        assert steps == sorted(steps) and seconds == sorted(seconds)
        # the points are taken at the first step past a third and two thirds of the budget
        assert seconds[0] >= 1 / 3 and seconds[1] >= 2 / 3 and seconds[2] >= 1.0
        assert steps[0] < steps[1] < steps[2]
        assert set(curve[0]["swap_accuracy_per_attribute"]) == {"shape", "color", "position"}
        assert (out / name / "curve" / "eval-1" / "metrics.json").is_file()
    (summary,) = document["summary"]
    assert summary["seeds"] == [3, 4] and summary["psnr"]["n"] == 2
    assert summary["psnr"]["std"] is not None
    assert " ± " in (out / "compare.md").read_text()
    for axis in ("seconds", "steps"):
        assert (out / f"compare-curves-{axis}.png").is_file()


def test_compare_rejects_configs_with_one_name(tmp_path):
    (tmp_path / "a").mkdir()
    (tmp_path / "a" / "x.toml").write_text("")
    (tmp_path / "x.toml").write_text("")
    assert main(["compare", str(tmp_path / "x.toml"), str(tmp_path / "a" / "x.toml"),
                 "--budget", "1", "--out", str(tmp_path / "o")]) == 1


def test_fonts_compare_configs_derive_from_the_demo_config():
    from groupsup.train.config import read_config_file

    root = Path(__file__).resolve().parents[1] / "examples" / "fonts"
    demo = read_config_file(root / "demo.toml")
    # the comparison was measured with the demo's training settings of its day (results.md:
    # 8 groups per step, a constant rate, no budget in the file); the demo has moved on since
    demo["optim"] = {"lr": demo["optim"]["lr"]}
    demo["train"]["groups_per_step"] = 8
    del demo["train"]["time_budget"]
    # ... and its decoder of that day, which the code did not modulate (2026-12-08)
    del demo["model"]["options"]["modulation"]
    # ... and the six matplotlib fonts of its day (the demo added two more on 2026-12-07)
    from groupsup_fonts.reproduce import COMPARISON_FONTS

    options = demo["dataset"]["options"]
    options["fonts"] = list(COMPARISON_FONTS)
    del options["system_fonts"]
    changes = {
        "gzsnet": {("loss", "recipe"): "gsl"},
        "no-swap": {("loss", "recipe"): "gsl-no-swap"},
        "no-cover": {("loss", "recipe"): "gsl-no-cover"},
        "ae-ds": {("loss", "recipe"): "ae-ds"},
        "beta-vae": {("loss", "recipe"): "beta-vae", ("loss", "distance"): "l1",
                     ("model", "backbone"): "vae",
                     ("model", "options"): {"inner": "conv-small",
                                            "inner_options": demo["model"]["options"]}},
        "beta-tcvae": {("loss", "recipe"): "beta-tcvae", ("loss", "distance"): "l1",
                       ("schema", "latent"): {n: 2 for n in demo["schema"]["latent"]},
                       ("model", "backbone"): "vae",
                       ("model", "options"): {"inner": "conv-small",
                                              "inner_options": demo["model"]["options"],
                                              "search": "exhaustive"}},
        "stargan": {("loss", "recipe"): "stargan", ("loss", "distance"): "l1",
                    ("schema", "latent"): {"letter": 10, "size": 3, "font_color": 5,
                                           "back_color": 5, "font": 6},
                    ("schema", "free"): 3072, ("schema", "free_name"): "source",
                    ("model", "backbone"): "stargan",
                    ("model", "options"): {"width": 32, "blocks": 2}},
        "elegant": {("loss", "recipe"): "elegant", ("loss", "distance"): "l1",
                    ("schema", "free"): 3172, ("schema", "free_name"): "source",
                    ("model", "backbone"): "elegant",
                    ("model", "options"): {"inner": "conv-small",
                                           "inner_options": demo["model"]["options"]}},
        "gsl-paper": {("loss", "recipe"): "gsl-paper",
                      ("strategy", "options"): {"exact": True, "cycle_pairs": 1}},
        "gsl-paper-no-cycle": {("loss", "recipe"): "gsl-paper-no-cycle",
                               ("strategy", "options"): {"exact": True, "cycle_pairs": 1}},
        "ada-gvae": {("loss", "recipe"): "ada-gvae", ("loss", "distance"): "l1",
                     ("model", "backbone"): "vae",
                     ("model", "options"): {"inner": "conv-small",
                                            "inner_options": demo["model"]["options"]},
                     ("strategy", "name"): "edge", ("strategy", "options"): {"exact": False}},
    }
    assert sorted(p.stem for p in (root / "compare").glob("*.toml")) == sorted(changes)
    for name, changed in changes.items():
        expected = json.loads(json.dumps(demo))
        expected["name"] = f"fonts-{name}"
        expected["train"]["out"] = "runs/compare/RUN"
        for (section, key), value in changed.items():
            expected[section][key] = value
        assert read_config_file(root / "compare" / f"{name}.toml") == expected, name


def test_compare_trains_side_by_side_with_per_config_seeds(tmp_path, toy_dataset, monkeypatch):
    """``--jobs 2`` trains in two worker processes (each at cpu_count // 2 threads, on the
    split the parent evaluates with); ``--seeds-for`` gives one config more seeds."""
    store = toy_dataset.write_store(tmp_path / "store")
    a = write_config(tmp_path / "a.json", tiny_config(tmp_path, store))
    b = write_config(tmp_path / "b.json", tiny_config(tmp_path, store, "b"))
    out = tmp_path / "cmp"
    fits = count_judge_fits(monkeypatch)
    assert main(["compare", str(a), str(b), "--budget", "1", "--out", str(out),
                 "--set", "train.steps=100000", "--classifier-budget", "1",
                 "--max-examples", "16", "--jobs", "2", "--seeds-for", "a=2"]) == 0
    document = json.loads((out / "compare.json").read_text())
    seed = document["configs"]["b"]["seed"]
    assert [r["name"] for r in document["rows"]] == [f"a/seed-{seed}", f"a/seed-{seed + 1}",
                                                    "b"]
    assert document["jobs"] == 2 and document["seeds_for"] == {"a": 2}
    assert len(fits) == 1 and document["judges_fitted"] == 1
    threads = max(1, (os.cpu_count() or 1) // 2)
    assert {c["train"]["threads"] for c in document["configs"].values()} == {threads}
    assert all(r["steps"] > 0 and r["train_seconds"] >= 1 for r in document["rows"])
    assert [s["seeds"] for s in document["summary"]] == [[seed, seed + 1], [seed]]


@pytest.mark.parametrize("extra, message", [
    (["--seeds-for", "nope=2"], "not among the configs"),
    (["--seeds-for", "x=two"], "expected STEM=N"),
    (["--jobs", "0"], "--jobs must be >= 1"),
])
def test_compare_rejects_bad_seed_and_job_counts(tmp_path, capsys, extra, message):
    (tmp_path / "x.toml").write_text("")
    assert main(["compare", str(tmp_path / "x.toml"), "--budget", "1",
                 "--out", str(tmp_path / "o"), *extra]) == 1
    assert message in capsys.readouterr().err


def test_differences_beyond_the_seed_spread():
    from groupsup_baselines.table import METRICS, beyond_spread, spread_table

    def row(name, seeds, **means):
        stats = {key: {"mean": means.get(key, 0.5), "std": 0.02 if len(seeds) > 1 else None,
                       "n": len(seeds)} for key, _, _ in METRICS}
        return {"name": name, "seeds": seeds, **stats}

    summary = [row("one-seed", [1], swap_accuracy=0.6), row("gzsnet", [1, 2, 3]),
               row("close", [1, 2, 3], swap_accuracy=0.53), row("far", [1], ssim=0.42)]
    found = beyond_spread(summary)
    assert found["reference"] == "gzsnet"
    diffs = found["differences"]
    assert diffs["one-seed"]["swap_accuracy"]["beyond"]           # 0.10 > 0.02 + 0.02
    assert not diffs["close"]["swap_accuracy"]["beyond"]          # 0.03 < 0.04
    assert diffs["far"]["ssim"]["beyond"] and diffs["far"]["ssim"]["difference"] < 0
    assert not diffs["far"]["psnr"]["beyond"]
    lines = spread_table(summary)
    assert "| far | +0.000 | +0.000 | **-0.080** |" in "\n".join(lines)
    assert beyond_spread([row("a", [1]), row("b", [1])]) is None


def test_the_configs_evaluate_tables_must_agree_for_one_shared_judge(tmp_path):
    from groupsup_baselines.compare import shared_evaluation_table

    root = Path(__file__).resolve().parents[1]
    digits = root / "examples" / "digits"

    def table(*paths):
        return shared_evaluation_table(paths, [gs.load_config(p) for p in paths])

    shared = table(digits / "digits.toml", digits / "digits-gsl.toml")
    assert shared.classifier_steps == 4000 and shared.model_fields_set == {"classifier_steps"}
    other = tmp_path / "other.toml"
    other.write_text((digits / "digits.toml").read_text().replace("classifier_steps = 4000",
                                                                   "classifier_steps = 99"))
    with pytest.raises(gs.ConfigError, match=r"other\.toml sets \[evaluate\].*99.*one judge"):
        table(digits / "digits.toml", other)
    fonts = root / "examples" / "fonts" / "compare"
    assert table(*sorted(fonts.glob("*.toml"))[:2]) == gs.EvalOptions()  # none sets one
