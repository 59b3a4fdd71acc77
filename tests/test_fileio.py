"""groupsup.fileio: atomic writes that honour the umask, and a full disk named by file."""

from __future__ import annotations

import errno
import os
import stat
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from safetensors.torch import save_file

from groupsup.cli import main
from groupsup.errors import StorageError
from groupsup.fileio import atomic_directory, atomic_save, atomic_write_bytes, atomic_write_text
from groupsup.plugins import reset_host
from groupsup.train import Trainer, load_config
from groupsup.train.checkpoint import LATEST, load_checkpoint, save_checkpoint


@pytest.fixture
def umask(request) -> Iterator[int]:
    """Run the test under the umask given by ``request.param`` (default 022)."""
    mask = getattr(request, "param", 0o022)
    old = os.umask(mask)
    yield mask
    os.umask(old)


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.mark.parametrize("umask", [0o022, 0o077, 0o002], indirect=True)
def test_files_and_folders_get_the_umask_mode(tmp_path, umask):
    text = atomic_write_text(tmp_path / "a" / "config.json", "{}")
    raw = atomic_write_bytes(tmp_path / "b.bin", b"x")
    # safetensors writes its own private (0600) file: the mode must be restored
    weights = atomic_save(tmp_path / "m.safetensors",
                          lambda tmp: save_file({"w": torch.zeros(2)}, str(tmp)))
    with atomic_directory(tmp_path / "store") as staging:
        atomic_write_text(staging / "manifest.json", "{}")
    for file in (text, raw, weights, tmp_path / "store" / "manifest.json"):
        assert mode(file) == 0o666 & ~umask, file
    for folder in (tmp_path / "a", tmp_path / "store"):
        assert mode(folder) == 0o777 & ~umask, folder


def test_replacing_keeps_readers_whole_and_leaves_no_temporaries(tmp_path):
    target = atomic_write_text(tmp_path / "x.txt", "old")
    with pytest.raises(ValueError):
        atomic_save(target, lambda tmp: (tmp.write_text("half"), int("boom")))
    assert target.read_text() == "old"
    with pytest.raises(KeyError), atomic_directory(tmp_path / "dir") as staging:
        (staging / "f").write_text("x")
        raise KeyError("interrupted")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["x.txt"]


@pytest.mark.parametrize("failure", [
    OSError(errno.ENOSPC, "No space left on device"),
    RuntimeError("[enforce fail at inline_container.cc:672] . PytorchStreamWriter failed "
                 "writing file data/0: file write failed"),
])
def test_full_disk_names_the_file_and_keeps_the_old_one(tmp_path, failure):
    target = atomic_write_text(tmp_path / "x.txt", "old")

    def write(tmp: Path) -> None:
        tmp.write_text("partial")
        raise failure

    with pytest.raises(StorageError, match=f"{target}: no space left on device"):
        atomic_save(target, write)
    assert target.read_text() == "old" and os.listdir(tmp_path) == ["x.txt"]


def test_full_disk_during_a_checkpoint_keeps_the_previous_one(tmp_path, monkeypatch):
    model = torch.nn.Linear(2, 2)
    save_checkpoint(tmp_path, 1, model, {"m": 1}, {"opt": torch.ones(1)}, {}, keep=3)
    real_open = open

    def full_disk(file, mode="r", *args, **kwargs):
        if "w" in mode and Path(file).name.startswith(".training.pt"):
            raise OSError(errno.ENOSPC, "No space left on device")
        return real_open(file, mode, *args, **kwargs)

    monkeypatch.setattr("groupsup.fileio.open", full_disk, raising=False)
    with pytest.raises(StorageError) as err:
        save_checkpoint(tmp_path, 2, model, {"m": 1}, {"opt": torch.ones(1)}, {}, keep=3)
    message = str(err.value)
    assert str(tmp_path / "checkpoints" / "step-000002" / "training.pt") in message
    assert "no space left on device" in message and "step-000001 is kept" in message
    assert "\n" not in message
    root = tmp_path / "checkpoints"
    assert (root / LATEST).read_text().strip() == "step-000001"
    assert sorted(os.listdir(root)) == [LATEST, "step-000001"]
    assert load_checkpoint(tmp_path, training=False).step == 1


@pytest.mark.parametrize("umask", [0o022, 0o077], indirect=True)
def test_train_evaluate_synthesize_outputs_follow_the_umask(tmp_path, toy_dataset, umask):
    """Every file and folder written by a tiny run, its evaluation and a synthesis."""
    reset_host()
    store = toy_dataset.write_store(tmp_path / "store")
    run = tmp_path / "run"
    config = load_config({
        "name": "toy", "seed": 1,
        "dataset": {"name": "store", "options": {"path": str(store)},
                    "split": "random-combinations", "split_options": {"fraction": 0.25}},
        "model": {"backbone": "conv-small", "options": {"width": 8, "max_width": 16}},
        "train": {"steps": 2, "groups_per_step": 2, "log_every": 1, "sample_every": 1,
                  "checkpoint_every": 1, "progress": False, "threads": 1, "out": str(run)}})
    Trainer(config).fit()
    assert main(["evaluate", str(run), "--classifier-budget", "1", "--max-examples", "8"]) == 0
    inputs = []
    for i, image in enumerate(toy_dataset.load_uint8(np.arange(3))):
        inputs.append(tmp_path / f"in{i}.png")
        Image.fromarray(image).save(inputs[-1])
    out = tmp_path / "synth" / "out.png"
    assert main(["synthesize", "--checkpoint", str(run), "--out", str(out),
                 "--from", f"shape={inputs[0]}", "--from", f"color={inputs[1]}",
                 "--from", f"position={inputs[2]}"]) == 0
    written = [p for top in (store, run, out.parent) for p in [top, *top.rglob("*")]]
    assert any(p.name == "model.safetensors" for p in written)
    assert any(p.parent.name == "samples" for p in written)
    assert (run / "eval" / "001" / "report.html") in written and out in written
    wrong = {str(p.relative_to(tmp_path)): oct(mode(p)) for p in written
             if mode(p) != (0o777 if p.is_dir() else 0o666) & ~umask}
    assert wrong == {}
