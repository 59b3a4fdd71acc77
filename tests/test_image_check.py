"""The pre-flight image check: every bad file listed before training, cached by size and mtime;
a file that goes bad mid-run stops the run after a checkpoint, in one line, with or without
DataLoader workers."""

from __future__ import annotations

import os
import re

import numpy as np
import pytest
from conftest import Toy, toy_images, toy_labels
from PIL import Image

import groupsup as gs
from groupsup.cli import main
from groupsup.data.check import check_images, user_cache_dir
from groupsup.data.sources import ImageReadError
from groupsup.graph import CentreCover
from groupsup.train import Trainer, load_config


def _folder(root, size: int = 8) -> list:
    """``root/img/<k>.png`` for the 24 toy examples, and ``root/labels.csv``; returns the paths."""
    labels = toy_labels()
    (root / "img").mkdir(parents=True)
    rows, paths = ["path,shape,color,position"], []
    for k, (img, codes) in enumerate(zip(toy_images(labels, size), labels.tolist())):
        paths.append(root / "img" / f"{k}.png")
        Image.fromarray(img).save(paths[-1])
        values = [a.values[c] for a, c in zip(Toy.attributes, codes)]
        rows.append(",".join([f"img/{k}.png", *values]))
    (root / "labels.csv").write_text("\n".join(rows))
    return paths


def _dataset(root) -> gs.GroupDataset:
    return gs.GroupDataset.from_folder(Toy, root, manifest="labels.csv")


def _break(paths) -> None:
    """Zero-byte, truncated, not-an-image, wrong size and missing, in that order."""
    paths[0].write_bytes(b"")
    paths[1].write_bytes(paths[1].read_bytes()[:60])
    paths[2].write_bytes(b"\x89PNG\r\n\x1a\n no png")
    Image.fromarray(np.zeros((5, 9, 3), np.uint8)).save(paths[3])
    paths[4].unlink()


def test_every_bad_file_is_listed_with_its_reason(tmp_path):
    paths = _folder(tmp_path / "data")
    data = _dataset(tmp_path / "data")
    _break(paths)
    with pytest.raises(gs.DataError) as caught:
        check_images(data, cache_dirs=[tmp_path / "cache"])
    message = str(caught.value)
    assert "\n" not in message and message.startswith("5 of 24 image files cannot be read: ")
    for expected in [r"img/0\.png: empty file \(0 bytes\)",
                     r"img/1\.png: cannot read image \((OSError|SyntaxError|ValueError): .*\)",
                     r"img/2\.png: cannot read image \(not an image file Pillow can identify\)",
                     r"img/3\.png: image is 9x5, expected 8x8",
                     r"img/4\.png: image file is missing", r"--skip-check"]:
        assert any(re.search(expected, part) for part in message.split("; ")), expected


def test_a_long_listing_is_capped_and_counted(tmp_path):
    paths = _folder(tmp_path / "data")
    data = _dataset(tmp_path / "data")
    for path in paths:
        path.write_bytes(b"")
    with pytest.raises(gs.DataError, match=r"^24 of 24 image files .*img/19\.png: empty file "
                                           r"\(0 bytes\); and 4 more \(fix or remove"):
        check_images(data, cache_dirs=[tmp_path / "cache"])


def test_second_check_reads_only_changed_files(tmp_path):
    paths = _folder(tmp_path / "data")
    data = _dataset(tmp_path / "data")
    first = check_images(data, cache_dirs=[tmp_path / "cache"])
    assert (first.files, first.decoded, first.cached) == (24, 24, 0)
    assert first.cache_file.parent == tmp_path / "cache"
    assert not any(p.name.startswith("image-check") for p in (tmp_path / "data").iterdir())
    second = check_images(data, cache_dirs=[tmp_path / "cache"])
    assert (second.decoded, second.cached) == (0, 24)
    stat = paths[7].stat()
    os.utime(paths[7], ns=(stat.st_atime_ns, stat.st_mtime_ns + 10**9))  # touched
    paths[8].write_bytes(paths[8].read_bytes()[:60])  # changed: re-read, and found bad
    with pytest.raises(gs.DataError, match=r"^1 of 24 image files cannot be read: .*img/8\.png"):
        check_images(data, cache_dirs=[tmp_path / "cache"])
    Image.fromarray(toy_images(toy_labels()[8:9], 8)[0]).save(paths[8])  # repaired
    third = check_images(data, cache_dirs=[tmp_path / "cache"])
    assert (third.decoded, third.cached) == (1, 23)  # the touched file was re-cached above


def test_an_unwritable_cache_dir_falls_back_and_never_fails_the_check(tmp_path):
    _folder(tmp_path / "data")
    data = _dataset(tmp_path / "data")
    (tmp_path / "a-file").write_text("")
    unwritable = tmp_path / "a-file" / "cache"  # its parent is a file: mkdir fails
    report = check_images(data, cache_dirs=[unwritable, tmp_path / "run"])
    assert report.cache_file == tmp_path / "run" / report.cache_file.name
    assert check_images(data, cache_dirs=[unwritable, tmp_path / "run"]).cached == 24
    assert check_images(data, cache_dirs=[unwritable]).cache_file is None


def test_user_cache_dir_follows_the_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("GROUPSUP_CACHE_DIR", str(tmp_path / "g"))
    assert user_cache_dir() == tmp_path / "g"
    monkeypatch.delenv("GROUPSUP_CACHE_DIR")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "x"))
    assert user_cache_dir() == tmp_path / "x" / "groupsup"


def _config(tmp_path, **train):
    return load_config({
        "name": "files", "seed": 3,
        "dataset": {"name": "folder", "options": {
            "root": str(tmp_path / "data"), "manifest": "labels.csv",
            "attributes": {"shape": 4, "color": 4, "position": 4}}},
        "model": {"backbone": "conv-small", "options": {"width": 4, "max_width": 8}},
        "optim": {"lr": 1e-3},
        "train": {"steps": 6, "groups_per_step": 2, "log_every": 1, "sample_every": 100,
                  "checkpoint_every": 100, "progress": False, "out": str(tmp_path / "run"),
                  "threads": 1, **train}})


def test_trainer_lists_bad_files_before_training_unless_skipped(tmp_path):
    paths = _folder(tmp_path / "data")
    paths[5].write_bytes(b"")
    with pytest.raises(gs.DataError, match=r"^1 of 24 image files cannot be read: .*img/5\.png"):
        Trainer(_config(tmp_path))
    assert not (tmp_path / "run").exists()
    assert Trainer(_config(tmp_path, check_images=False)).image_check is None


def test_cli_prints_the_check_and_skip_check_opts_out(tmp_path, capsys):
    paths = _folder(tmp_path / "data")
    cfg = tmp_path / "files.json"
    cfg.write_text(_config(tmp_path, steps=1).model_dump_json(by_alias=True))
    assert main(["train", str(cfg)]) == 0
    assert "checked 24 image files" in capsys.readouterr().out
    paths[5].write_bytes(b"")
    assert main(["train", str(cfg), "--set", f"train.out={tmp_path / 'run2'}"]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "img/5.png: empty file (0 bytes)" in err
    Image.fromarray(toy_images(toy_labels()[5:6], 8)[0]).save(paths[5])
    assert main(["train", str(cfg), "--skip-check", "--set", f"train.out={tmp_path / 'run3'}"]) == 0
    assert "checked" not in capsys.readouterr().out
    assert '"check_images": false' in (tmp_path / "run3" / "config.json").read_text()


def test_a_file_that_breaks_mid_run_checkpoints_first_and_names_it(tmp_path):
    paths = _folder(tmp_path / "data")
    trainer = Trainer(_config(tmp_path))
    step = trainer.train_step

    def step_then_break(images, batch):  # every file goes bad after step 3
        values = step(images, batch)
        if trainer.state.step == 3:
            for path in paths:
                path.write_bytes(b"broken")
        return values

    trainer.train_step = step_then_break
    with pytest.raises(gs.DataError, match=r"img/\d+\.png: cannot read image .* \(while loading "
                                           r"step 4; checkpoint .*step-000003 saved; fix the "
                                           r"file and continue with --resume .*run\)$"):
        trainer.fit()
    assert (tmp_path / "run" / "checkpoints" / "latest").read_text().strip() == "step-000003"


def test_worker_errors_come_back_as_the_original_one_line_error(tmp_path):
    paths = _folder(tmp_path / "data")
    data = _dataset(tmp_path / "data")
    paths[0].unlink()
    strategy = CentreCover(gs.MultiGraph(data), {"exact": False})
    loader = gs.GroupLoader(data, strategy, groups_per_step=24, seed=1, steps=2, num_workers=1)
    with pytest.raises(ImageReadError) as caught:
        list(loader)
    assert str(caught.value) == f"{paths[0]}: image file is missing"
    assert caught.value.path == paths[0] and caught.value.reason == "image file is missing"


def test_a_worker_read_error_stops_training_in_one_line(tmp_path):
    paths = _folder(tmp_path / "data")
    trainer = Trainer(_config(tmp_path, num_workers=1))
    for path in paths:
        path.write_bytes(b"")
    with pytest.raises(gs.DataError) as caught:
        trainer.fit()
    message = str(caught.value)
    assert "\n" not in message and "Traceback" not in message
    assert re.fullmatch(r".*img/\d+\.png: cannot read image \(empty file, 0 bytes\) \(while "
                        r"loading step 1; no checkpoint written\)", message)


def test_a_decompression_bomb_is_named_in_the_check_when_read_and_by_synthesize(
        tmp_path, monkeypatch):
    paths = _folder(tmp_path / "data")
    data = _dataset(tmp_path / "data")
    bomb = paths[5]
    Image.new("L", (200, 200)).save(bomb)  # 40,000 pixels, over twice the limit set below
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 1000)
    with pytest.raises(gs.DataError, match=rf"{re.escape(str(bomb))}: .*DecompressionBombError"):
        check_images(data, cache_dirs=[tmp_path / "cache"])
    with pytest.raises(ImageReadError, match=rf"{re.escape(str(bomb))}: cannot read image "
                                             r"\(DecompressionBombError"):
        data.load(np.array([5]))  # what training does with the check skipped
    from groupsup.cli.train import read_image

    with pytest.raises(gs.DataError, match=rf"{re.escape(str(bomb))}: cannot read image"):
        read_image(bomb, (3, 8, 8))
