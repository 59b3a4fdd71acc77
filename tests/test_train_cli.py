"""The train / synthesize / reconstruct / config commands, end to end on a tiny store."""

import json

import numpy as np
import pytest
import torch
from conftest import Toy, styled_run, toy_config, toy_images, toy_labels, write_config
from PIL import Image

import groupsup as gs
from groupsup.cli import main
from groupsup.cli.train import read_image
from groupsup.data import to_uint8
from groupsup.persistence import find_checkpoint
from groupsup.plugins import reset_host

pytestmark = pytest.mark.usefixtures("fresh_host")


def test_train_writes_a_run_and_synthesize_reads_it(toy_run, capsys):
    root, _, paths = toy_run
    assert (root / "run" / "checkpoints" / "latest").is_file()
    out = root / "synth.png"
    args = ["synthesize", "--checkpoint", str(root / "run"), "--out", str(out),
            "--from", f"shape={paths[0]}", "--from", f"color={paths[1]}",
            "--from", f"position={paths[2]}"]
    assert main(args) == 0
    assert Image.open(out).size == (16, 16)


def test_synthesize_groups_folder(toy_run):
    root, _, paths = toy_run
    for g in ("g1", "g2"):
        (root / "groups" / g).mkdir(parents=True)
        for name, path in zip(("shape", "color", "position"), paths):
            (root / "groups" / g / f"{name}.png").write_bytes(path.read_bytes())
    out = root / "groups-out"
    assert main(["synthesize", "--checkpoint", str(root / "run"), "--groups",
                 str(root / "groups"), "--out", str(out)]) == 0
    assert sorted(p.name for p in out.glob("*.png")) == ["g1.png", "g2.png", "sheet.png"]


def test_synthesize_errors_name_the_attribute_or_file(toy_run, capsys):
    root, _, paths = toy_run
    base = ["synthesize", "--checkpoint", str(root / "run"), "--out", str(root / "x.png")]
    assert main([*base, "--from", f"shap={paths[0]}"]) == 1
    assert "did you mean 'shape'" in capsys.readouterr().err
    assert main([*base, "--from", f"shape={paths[0]}"]) == 1
    assert "no image for attributes ['color', 'position']" in capsys.readouterr().err
    assert main([*base, "--from", "shape=missing.png", "--from", f"color={paths[1]}",
                 "--from", f"position={paths[2]}"]) == 1
    assert "missing.png: image file not found" in capsys.readouterr().err


def test_reconstruct(toy_run):
    root, _, paths = toy_run
    out = root / "recon.png"
    assert main(["reconstruct", "--checkpoint", str(root / "run"), *map(str, paths),
                 "--out", str(out)]) == 0
    assert out.is_file()


def test_resume_from_run_directory_with_more_steps(toy_run):
    root, _, _ = toy_run
    assert main(["train", "--resume", str(root / "run"), "--set", "train.steps=3"]) == 0
    lines = (root / "run" / "metrics.jsonl").read_text().splitlines()
    assert json.loads(lines[-1])["step"] == 3


def test_resume_applies_a_new_learning_rate_and_records_it(toy_run, capsys):
    root, _, _ = toy_run
    old = json.loads((root / "run" / "config.json").read_text())["optim"]["lr"]
    assert main(["train", "--resume", str(root / "run"), "--set", "train.steps=4",
                 "--set", "optim.lr=0.0002"]) == 0
    assert f"optim.lr {old!r} -> 0.0002" in capsys.readouterr().err
    records = [json.loads(line) for line in
               (root / "run" / "metrics.jsonl").read_text().splitlines()]
    resumed = [r["lr"] for r in records if r["step"] > 2]
    assert resumed and resumed == pytest.approx([2e-4] * len(resumed))
    assert json.loads((root / "run" / "config.json").read_text())["optim"]["lr"] == 2e-4
    state = torch.load(find_checkpoint(root / "run") / "training.pt", weights_only=True)
    assert state["optimizer"]["param_groups"][0]["lr"] == pytest.approx(2e-4)


@pytest.mark.parametrize("override, key", [
    ("model.options.width=16", "model.options.width"), ("seed=9", "seed"),
    ("optim.betas=[0.5,0.9]", "optim.betas"), ("loss.recipe='gsl-invariance'", "loss.recipe")])
def test_resume_refuses_a_change_that_defines_the_run(toy_run, capsys, override, key):
    root, _, _ = toy_run
    before = (root / "run" / "metrics.jsonl").read_text()
    assert main(["train", "--resume", str(root / "run"), "--set", "train.steps=4",
                 "--set", override]) == 1
    err = capsys.readouterr().err
    assert f"--resume {root / 'run'}: {key} " in err and "start a new run" in err
    assert (root / "run" / "metrics.jsonl").read_text() == before


def test_config_show_and_schema(toy_run, capsys):
    _, cfg, _ = toy_run
    assert main(["config", "show", str(cfg), "--set", "optim.lr=0.01"]) == 0
    shown = json.loads(capsys.readouterr().out)
    assert shown["optim"]["lr"] == 0.01 and shown["train"]["steps"] == 2
    assert main(["config", "schema"]) == 0
    assert "ExperimentConfig" in capsys.readouterr().out


def test_unknown_config_key_suggests_the_nearest(toy_run, capsys):
    _, cfg, _ = toy_run
    assert main(["train", str(cfg), "--set", "train.stpes=3"]) == 1
    assert "did you mean 'train.steps'" in capsys.readouterr().err


def test_train_reports_partners_and_warns_of_values_never_recombined(tmp_path, capsys):
    labels = toy_labels(copies=1)
    labels = labels[~((labels[:, 1] == 2) & ((labels[:, 0] == 1) | (labels[:, 2] == 1)))]
    assert (labels[:, 1] == 2).sum() == 1  # 'blue' occurs once: no swap can transfer it
    data = gs.GroupDataset.from_arrays(Toy, toy_images(labels), labels, name="toy")
    store = data.write_store(tmp_path / "store")
    config = toy_config(store, tmp_path / "run", train={"steps": 1})
    assert main(["train", str(write_config(tmp_path / "toy.json", config))]) == 0
    out, err = capsys.readouterr()
    assert ("centre-cover partners (exact requested) per attribute, over 9 centres of 9 "
            "training examples:") in out
    assert "color: " in out and "1 none" in out
    assert ("groupsup: warning: attribute 'color': 1 value(s) held by a single training example "
            "can never be recombined: blue") in err
    report = json.loads((tmp_path / "run" / "partners.json").read_text())
    assert report["never_recombined"] == {"color": ["blue"]}
    assert sum(report["counts"]["shape"].values()) == 9


# ---------------------------------------------------------------------- an unlabelled block
@pytest.fixture(scope="module")
def styled(tmp_path_factory):
    """``(run, images)``: a two-step run with the unlabelled block ``style`` and four of its
    images as PNG files (0, 1: a square on the left; 2, 3: on the right)."""
    reset_host()
    root = tmp_path_factory.mktemp("styled")
    run, data = styled_run(root / "run")
    paths = []
    for i, pixels in zip((0, 2, 1, 3), data.load_uint8([0, 2, 1, 3])):
        paths.append(root / f"img{i}.png")
        Image.fromarray(pixels).save(paths[-1])
    return run, paths


def test_synthesize_takes_the_unlabelled_block_from_its_own_image(styled, tmp_path):
    run, paths = styled
    out = tmp_path / "synth.png"
    assert main(["synthesize", "--checkpoint", str(run), "--out", str(out),
                 "--from", f"shape={paths[0]}", "--from", f"color={paths[1]}",
                 "--from", f"style={paths[2]}"]) == 0
    model = gs.load_model(run, "cpu").eval()
    with torch.no_grad():  # the same three images through the Python API
        expected = model.synthesize({name: read_image(path, model.image_shape) for name, path
                                     in zip(("shape", "color", "style"), paths)})
    got = np.asarray(Image.open(out)).astype(int)
    assert np.abs(got - to_uint8(expected)[0].astype(int)).max() <= 1
    assert main(["synthesize", "--checkpoint", str(run), "--out", str(tmp_path / "other.png"),
                 "--from", f"shape={paths[0]}", "--from", f"color={paths[1]}",
                 "--from", f"style={paths[3]}"]) == 0  # another style: another image
    assert not np.array_equal(np.asarray(Image.open(tmp_path / "other.png")), got)


def test_synthesize_without_the_unlabelled_block_names_it_in_one_line(styled, capsys):
    run, paths = styled
    base = ["synthesize", "--checkpoint", str(run), "--out", "never.png"]
    assert main([*base, "--from", f"shape={paths[0]}", "--from", f"color={paths[1]}"]) == 1
    err = capsys.readouterr().err
    assert err == ("groupsup: error: --from: no image for the unlabelled block 'style' (--from "
                   "style=IMAGE: the image whose unnamed variation, the one no attribute "
                   "names, to keep)\n")
    assert main([*base, "--from", f"shape={paths[0]}"]) == 1
    err = capsys.readouterr().err
    assert "no image for attributes ['color'] (one per attribute: shape, color; and one for " \
           "the unlabelled block 'style'" in err and len(err.splitlines()) == 1
    assert main([*base, "--from", f"shape={paths[0]}", "--from", f"color={paths[1]}",
                 "--from", f"styel={paths[2]}"]) == 1
    assert "no attribute or unlabelled block 'styel' (did you mean 'style'?)" in \
        capsys.readouterr().err


def test_synthesize_groups_take_the_unlabelled_block_from_its_png(styled, tmp_path):
    run, paths = styled
    group = tmp_path / "groups" / "g1"
    group.mkdir(parents=True)
    for name, path in zip(("shape", "color", "style"), paths):
        (group / f"{name}.png").write_bytes(path.read_bytes())
    out = tmp_path / "out"
    assert main(["synthesize", "--checkpoint", str(run), "--groups", str(tmp_path / "groups"),
                 "--out", str(out)]) == 0
    assert sorted(p.name for p in out.iterdir()) == ["g1.png", "sheet.png"]


def test_synthesize_help_describes_the_unlabelled_block(capsys):
    assert main(["synthesize", "--help"]) == 0
    help_text = " ".join(capsys.readouterr().out.split())
    assert "a model with an unlabelled block" in help_text
    assert "the image whose unnamed variation (the one no attribute names) to keep" in help_text


def test_resume_refuses_data_whose_label_values_changed(tmp_path):
    from test_image_check import _folder

    paths = _folder(tmp_path / "data")
    config = {"name": "toy", "seed": 1,
              "dataset": {"name": "folder", "options": {
                  "root": str(tmp_path / "data"), "manifest": "labels.csv",
                  "attributes": {"shape": 2, "color": 2, "position": 2}}},
              "model": {"backbone": "conv-small", "options": {"width": 4, "max_width": 8}},
              "train": {"steps": 2, "groups_per_step": 2, "progress": False, "threads": 1,
                        "out": str(tmp_path / "run"), "check_images": False}}
    path = write_config(tmp_path / "c.json", config)
    assert main(["train", str(path)]) == 0
    labels = tmp_path / "data" / "labels.csv"
    labels.write_text(labels.read_text().replace(",red,", ",crimson,"))
    assert len(paths) == 24
    reset_host()
    with pytest.raises(gs.ConfigError, match=r"--resume .*run: the data's labels no longer "
                                             r"match the run's \(attribute 'color' had values"):
        from groupsup.train import Trainer

        Trainer(gs.load_config(path, ["train.steps=4"]), resume=tmp_path / "run")
