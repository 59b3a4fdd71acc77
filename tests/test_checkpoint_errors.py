"""A damaged checkpoint or saved model is one clear line naming the file and key at fault."""

from __future__ import annotations

import json
import pickle
import textwrap
from pathlib import Path

import pytest
import torch
from conftest import Toy

import groupsup as gs
from groupsup.cli import main
from groupsup.plugins import PLUGINS_ENV, reset_host
from groupsup.train.checkpoint import load_checkpoint, rng_state, save_checkpoint

pytestmark = pytest.mark.usefixtures("fresh_host")


def tiny_model(backbone: str = "conv-small") -> gs.SwapAutoencoder:
    return gs.build_model(backbone, Toy, (3, 8, 8), {"width": 4, "max_width": 8})


def write_checkpoint(run: Path, model: gs.SwapAutoencoder | None = None) -> Path:
    model = model or tiny_model()
    optimizer = torch.optim.Adam(model.parameters())
    training = {"optimizer": optimizer.state_dict(), "scheduler": {}, "scaler": {},
                "rng": rng_state(), "terms": {}}
    return save_checkpoint(run, 1, model, model.config_dict(), training, {"plugins": []}, keep=2)


def cli_error(capsys, run: Path) -> str:
    assert main(["reconstruct", "--checkpoint", str(run), "--out", str(run / "r.png"),
                 str(run / "none.png")]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Traceback" not in err
    return err


def test_truncated_weights_name_the_file(tmp_path, capsys):
    ckpt = write_checkpoint(tmp_path)
    weights = ckpt / "model.safetensors"
    weights.write_bytes(weights.read_bytes()[:100])
    with pytest.raises(gs.DataError, match=f"{weights}: not a readable safetensors file"):
        gs.load_model(tmp_path)
    assert f"{weights}: not a readable safetensors file" in cli_error(capsys, tmp_path)


def test_truncated_saved_model_names_the_file(tmp_path):
    tiny_model().save(tmp_path / "m")
    weights = tmp_path / "m" / "model.safetensors"
    weights.write_bytes(weights.read_bytes()[:-10])
    with pytest.raises(gs.DataError, match=f"{weights}: not a readable safetensors file"):
        gs.SwapAutoencoder.load(tmp_path / "m", registries=gs.get_host())


def test_weights_holding_a_nan_are_refused_on_load(tmp_path, capsys):
    from safetensors.torch import load_file, save_file

    tiny_model().save(tmp_path / "m")
    ckpt = write_checkpoint(tmp_path / "run")
    for weights in (tmp_path / "m" / "model.safetensors", ckpt / "model.safetensors"):
        state = load_file(str(weights))
        name = sorted(k for k, v in state.items() if v.is_floating_point())[0]
        state[name].view(-1)[0] = float("nan")
        save_file(state, str(weights), metadata={"format": gs.persistence.MODEL_FORMAT})
    pattern = r"tensor '.*' holds 1 NaN or infinite values of .*; these weights are unusable"
    with pytest.raises(gs.DataError, match=rf"{tmp_path / 'm' / 'model.safetensors'}: {pattern}"):
        gs.SwapAutoencoder.load(tmp_path / "m", registries=gs.get_host())
    with pytest.raises(gs.DataError, match=pattern):
        gs.load_model(tmp_path / "run")
    assert "these weights are unusable" in cli_error(capsys, tmp_path / "run")


@pytest.mark.parametrize("content", [b"garbage", b"",
                                     pickle.dumps({"optimizer": object()}, protocol=2)])
def test_unloadable_training_state_names_the_file(tmp_path, content):
    ckpt = write_checkpoint(tmp_path)
    (ckpt / "training.pt").write_bytes(content)
    with pytest.raises(gs.DataError, match=f"{ckpt / 'training.pt'}: not a loadable training"):
        load_checkpoint(tmp_path)
    assert gs.load_model(tmp_path) is not None  # evaluation does not need the training state


def test_training_state_without_its_keys_is_named(tmp_path):
    ckpt = write_checkpoint(tmp_path)
    torch.save({"optimizer": {}}, ckpt / "training.pt")
    with pytest.raises(gs.DataError, match=r"training.pt: training state lacks \['scheduler'"):
        load_checkpoint(tmp_path)


@pytest.mark.parametrize(("file", "content", "expected"), [
    ("meta.json", [], "meta.json: expected a JSON object, got list"),
    ("meta.json", {"plugins": []}, "meta.json: key 'step' must be a non-negative integer"),
    ("meta.json", {"step": 1, "plugins": ["x"]}, "meta.json: key 'plugins' must be a list"),
    ("model.json", "conv-small", "model.json: expected a JSON object, got str"),
    ("model.json", {"backbone": 3, "backbone_config": {}, "schema": {}, "image_shape": [3]},
     "model.json: model config key 'backbone' must be a string, got 3"),
    ("model.json", {"backbone": "conv-small", "backbone_config": {}, "schema": {},
                    "image_shape": [3, 8]}, "model.json: model config key 'image_shape'"),
    ("model.json", {"backbone": "conv-small"}, "model.json: model config lacks key"),
])
def test_json_of_the_wrong_shape_names_the_file_and_key(tmp_path, capsys, file, content,
                                                        expected):
    ckpt = write_checkpoint(tmp_path)
    (ckpt / file).write_text(json.dumps(content))
    with pytest.raises(gs.GroupsupError, match=expected):
        gs.load_model(tmp_path)
    assert str(ckpt / expected) in cli_error(capsys, tmp_path)


def test_local_plugin_backbone_not_loaded_says_what_to_add(tmp_path, monkeypatch):
    plugin = tmp_path / "my_nets.py"
    plugin.write_text(textwrap.dedent("""
        import groupsup as gs
        from groupsup.backbones.conv_small import ConvSmall

        class LocalNet(ConvSmall):
            pass

        @gs.hookimpl
        def register_backbones(register):
            register("local-net", LocalNet)
    """))
    monkeypatch.setenv(PLUGINS_ENV, str(plugin))
    reset_host()
    write_checkpoint(tmp_path / "run", tiny_model("local-net"))
    monkeypatch.delenv(PLUGINS_ENV)
    reset_host()
    with pytest.raises(gs.PluginError) as err:
        gs.load_model(tmp_path / "run")
    message = str(err.value)
    assert "local plugin 'my_nets', which is not loaded" in message
    assert f"{PLUGINS_ENV}={plugin.resolve()}" in message and "pip install" not in message


@pytest.mark.parametrize("content", ["../../../etc", "/tmp/elsewhere", "step-000001/../..", ""])
def test_latest_naming_a_folder_outside_the_run_is_refused(tmp_path, content):
    write_checkpoint(tmp_path / "run")
    (tmp_path / "run" / "checkpoints" / "latest").write_text(content + "\n")
    with pytest.raises(gs.DataError, match=r"latest: names .*, not a checkpoint folder of this "
                                           r"run \(step-NNNNNN\)"):
        gs.load_model(tmp_path / "run")
