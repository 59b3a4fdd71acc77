"""The train / synthesize / reconstruct / config commands, end to end on a tiny store."""

import json

import pytest
from conftest import Toy, toy_config, toy_images, toy_labels, write_config
from PIL import Image

import groupsup as gs
from groupsup.cli import main

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
    assert "centre-cover partners (exact requested) per attribute, over 9 centres:" in out
    assert "color: " in out and "1 none" in out
    assert ("groupsup: warning: attribute 'color': 1 value(s) held by a single training example "
            "can never be recombined: blue") in err
    report = json.loads((tmp_path / "run" / "partners.json").read_text())
    assert report["never_recombined"] == {"color": ["blue"]}
    assert sum(report["counts"]["shape"].values()) == 9
