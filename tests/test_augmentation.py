"""examples/fonts/augmentation.py (groupsup_fonts.augmentation) with --quick (slow: minutes)."""

import importlib
import json
from pathlib import Path

import pytest
from scripts import load_script as load_script_at

SCRIPT = Path(__file__).resolve().parents[1] / "examples" / "fonts" / "augmentation.py"


def load_script():
    return load_script_at(SCRIPT, "fonts_augmentation")


def test_missing_combinations_keep_every_letter_and_colour():
    import numpy as np

    mask = load_script().missing_combinations(5, 4, 0.4, np.random.default_rng(0))
    assert mask.sum() == 10 and (~mask).any(0).all() and (~mask).any(1).all()
    assert (mask.sum(1) == 2).all()


@pytest.mark.slow
def test_quick_augmentation_experiment(tmp_path):
    out = tmp_path / "aug"
    assert load_script().main(["--quick", "--gsl-budget", "30", "--classifier-steps", "100",
                               "--out", str(out)]) == 0
    document = json.loads((out / "augmentation.json").read_text())
    assert set(document["results"]) == {"real", "standard", "gsl"}
    assert document["results"]["gsl"]["train_images"] == document["results"]["standard"][
        "train_images"] > document["results"]["real"]["train_images"]
    assert document["generator"]["trained_steps"] > 0
    assert (out / "augmentation.md").read_text().count("\n") == 5


def test_seed_summary_gives_means_intervals_and_paired_contrasts():
    module = importlib.import_module("groupsup_fonts.augmentation")
    # three seeds; gsl beats real by 0.1, 0.2 and 0.3 on "both"
    documents = []
    for gain in (0.1, 0.2, 0.3):
        row = {m: 0.5 for m in module.ROW_METRICS}
        documents.append({"results": {
            "real": {**row, "train_images": 100},
            "standard": {**row, "both": 0.5 + gain / 2, "train_images": 150},
            "gsl": {**row, "both": 0.5 + gain, "train_images": 150}}})
    summary = module.summarise_seeds(documents)
    both = summary["sets"]["gsl"]["both"]
    assert both["mean"] == pytest.approx(0.7) and both["std"] == pytest.approx(0.1)
    # t(0.975, df=2) = 4.303: half-width 4.303 * 0.1 / sqrt(3)
    assert both["ci95"] == pytest.approx(4.303 * 0.1 / 3 ** 0.5)
    paired = summary["contrasts"]["gsl - real"]["both"]
    assert paired["values"] == pytest.approx([0.1, 0.2, 0.3])
    assert summary["contrasts"]["gsl - standard"]["both"]["mean"] == pytest.approx(0.1)
    assert summary["contrasts"]["gsl - real"]["letter"]["mean"] == 0
    table = module.summary_table(summary, documents)
    assert "| gsl | 150 | 0.500 ± 0.000 | 0.500 ± 0.000 | 0.700 ± 0.248 |" in table
    assert "| gsl - real (paired) |" in table
    assert module.t_quantile(2) == 4.303 and abs(module.t_quantile(30) - 2.042) < 0.01


def test_augmentation_rejects_zero_seeds():
    module = importlib.import_module("groupsup_fonts.augmentation")
    with pytest.raises(SystemExit):
        module.parse_args(["--seeds", "0"])


@pytest.mark.slow
def test_quick_augmentation_over_seeds_in_parallel(tmp_path):
    out = tmp_path / "aug"
    assert load_script().main(["--quick", "--gsl-budget", "10", "--classifier-steps", "50",
                               "--seeds", "2", "--jobs", "2", "--out", str(out)]) == 0
    document = json.loads((out / "augmentation.json").read_text())
    assert document["seeds"] == [0, 1] and set(document["per_seed"]) == {"0", "1"}
    assert (out / "seed-1" / "augmentation.json").is_file()
    assert document["summary"]["sets"]["gsl"]["both"]["n"] == 2
    assert "gsl - standard (paired)" in (out / "augmentation.md").read_text()
