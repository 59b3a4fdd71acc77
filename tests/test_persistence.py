"""One model format (groupsup/persistence.py): a checkpoint directory is a saved model plus
training state, so ``SwapAutoencoder.load`` and ``gs.load_model`` read saved models,
checkpoints and run directories alike, and checkpoints of the format before (``model.json``
holding the bare ``config_dict()``) still load and resume."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from conftest import Toy
from safetensors.torch import load_file, save_file
from test_trainer import config, weights

import groupsup as gs
from groupsup.persistence import MODEL_FORMAT
from groupsup.train import Trainer, load_checkpoint


@pytest.fixture
def store(toy_dataset, tmp_path):
    return toy_dataset.write_store(tmp_path / "store")


def to_old_layout(checkpoint: Path) -> None:
    """Rewrite *checkpoint* as the code before persistence.py wrote it: ``model.json`` the
    bare ``config_dict()``, weights without header metadata."""
    document = json.loads((checkpoint / "model.json").read_text())
    (checkpoint / "model.json").write_text(json.dumps(document["model"], indent=2))
    weights_file = checkpoint / "model.safetensors"
    save_file(load_file(str(weights_file)), str(weights_file))


def same_weights(a: gs.SwapAutoencoder, b: gs.SwapAutoencoder) -> bool:
    wa, wb = weights(a), weights(b)
    return wa.keys() == wb.keys() and all(torch.equal(wa[k], wb[k]) for k in wa)


def test_a_checkpoint_is_a_saved_model_and_both_loaders_read_both(tmp_path, store):
    trainer = Trainer(config(tmp_path, store, steps=2, checkpoint_every=2))
    trainer.fit()
    run, model = tmp_path / "run", trainer.state.model.cpu()
    checkpoint = run / "checkpoints" / "step-000002"
    document = json.loads((checkpoint / "model.json").read_text())
    saved = model.save(tmp_path / "saved")
    assert document == json.loads(saved.read_text())  # the same model.json, byte for byte
    assert document["format"] == MODEL_FORMAT and document["model"] == model.config_dict()
    for path in (run, run / "checkpoints", checkpoint, tmp_path / "saved"):
        assert same_weights(gs.SwapAutoencoder.load(path, registries=gs.get_host()), model), path
        assert same_weights(gs.load_model(path), model), path


def test_checkpoints_of_the_previous_format_load_and_resume_bitwise(tmp_path, store):
    full = Trainer(config(tmp_path / "full", store, steps=4, checkpoint_every=2))
    full.fit()
    part = Trainer(config(tmp_path / "part", store, steps=4, checkpoint_every=2))
    part.fit(until=2)
    run = tmp_path / "part" / "run"
    checkpoint = run / "checkpoints" / "step-000002"
    to_old_layout(checkpoint)
    assert "format" not in json.loads((checkpoint / "model.json").read_text())
    for loaded in (gs.load_model(run),
                   gs.SwapAutoencoder.load(checkpoint, registries=gs.get_host())):
        assert same_weights(loaded, part.state.model.cpu())
    assert load_checkpoint(run).step == 2
    resumed = Trainer(config(tmp_path / "part", store, steps=4, checkpoint_every=2),
                      resume=run)
    resumed.fit()
    assert same_weights(resumed.state.model, full.state.model)


def test_a_bare_config_outside_a_checkpoint_is_refused_in_one_line(tmp_path):
    model = gs.build_model("conv-small", Toy, (3, 8, 8), {"width": 4, "max_width": 8})
    config_file = model.save(tmp_path / "m")
    config_file.write_text(json.dumps(model.config_dict()))
    with pytest.raises(gs.DataError, match=rf"^{config_file}: not a groupsup model \(expected "
                                           rf"format '{MODEL_FORMAT}'\)$"):
        gs.SwapAutoencoder.load(tmp_path / "m", registries=gs.get_host())
