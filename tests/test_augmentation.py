"""examples/fonts/augmentation.py (groupsup_fonts.augmentation) with --quick (slow: minutes)."""

import importlib.util
import json
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[1] / "examples" / "fonts" / "augmentation.py"


def load_script():
    spec = importlib.util.spec_from_file_location("fonts_augmentation", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


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
