"""A model folder anyone can load (issue 31): `gs.save_pretrained` / `groupsup export --format
pretrained` write the Hugging Face Hub's layout (weights, config.json, a generated model card)
and `gs.from_pretrained`, `gs.load_model` and `SwapAutoencoder.load` read it back."""

from __future__ import annotations

import json

import pytest
import torch
from conftest import Toy, toy_images, toy_labels

import groupsup as gs
from groupsup.cli import main


@pytest.fixture(scope="module")
def evaluated_run(tmp_path_factory):
    """A run trained 2 steps on 16 px images with a held-out split, then evaluated."""
    root = tmp_path_factory.mktemp("pretrained")
    labels = toy_labels()
    data = gs.GroupDataset.from_arrays(Toy, toy_images(labels), labels)
    model = gs.build_model("conv-small", Toy, (3, 16, 16), {"width": 4, "max_width": 8})
    result = gs.train(model, data, steps=2, groups_per_step=2, out=root / "run",
                      progress=False, split="random-combinations")
    gs.evaluate_run(result, dataset=data, progress=False, report=False,
                    options=gs.EvalOptions(max_examples=8, classifier_steps=2,
                                           leakage_examples=4, coprediction_examples=24,
                                           code_metrics=()))
    return result.run_dir, data


def test_a_run_becomes_a_model_folder_with_its_card(evaluated_run, tmp_path):
    run, _ = evaluated_run
    folder = gs.save_pretrained(run, tmp_path / "digits")
    assert sorted(p.name for p in folder.iterdir()) == [
        "README.md", "config.json", "evaluation.json", "model.safetensors",
        "training_config.json"]
    card = (folder / "README.md").read_text()
    assert card.startswith("---\nlibrary_name: groupsup\ntags:\n- group-supervised-learning")
    assert "| shape | 0:4 | square, plus |" in card and "| position | 8:12 | left, right |" in card
    evaluation = json.loads((folder / "evaluation.json").read_text())
    assert evaluation["headline"]["text"] in card
    assert f"| all at once | {evaluation['swap_accuracy']['all_correct']:.3f} |" in card
    assert "split and data options" in card and 'gs.from_pretrained("THIS_FOLDER")' in card
    assert json.loads((folder / "config.json").read_text())["format"] == "groupsup.model/1"


def test_every_loader_reads_the_folder_back(evaluated_run, tmp_path):
    run, data = evaluated_run
    original = gs.load_model(run)
    folder = gs.save_pretrained(run, tmp_path / "m")
    images = data.load([0, 5])
    for loaded in (gs.from_pretrained(folder), gs.load_model(folder),
                   gs.SwapAutoencoder.load(folder, registries=gs.get_host())):
        with torch.no_grad():
            torch.testing.assert_close(loaded.eval().reconstruct(images),
                                       original.eval().reconstruct(images))


def test_a_model_alone_gets_a_card_without_a_run_and_nothing_is_overwritten(tmp_path):
    model = gs.build_model("conv-small", Toy, (3, 16, 16), {"width": 4, "max_width": 8})
    folder = gs.save_pretrained(model, tmp_path / "bare")
    card = (folder / "README.md").read_text()
    assert "## Latent blocks" in card and "## Training" not in card
    with pytest.raises(gs.ConfigError, match="bare: exists"):
        gs.save_pretrained(model, folder)
    assert (folder / "README.md").read_text() == card
    gs.save_pretrained(model, folder, overwrite=True)


def test_the_command_writes_the_folder_and_export_reads_it(evaluated_run, tmp_path, capsys):
    run, _ = evaluated_run
    assert main(["export", str(run), "--format", "pretrained", "--out", str(tmp_path / "f")]) == 0
    assert "README.md" in capsys.readouterr().out
    # a model folder is a model directory for every command that takes one
    assert main(["export", str(tmp_path / "f"), "--format", "torchscript",
                 "--out", str(tmp_path / "ts")]) == 0
