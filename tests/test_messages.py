"""Bad input is one line naming the file, key or value at fault (issue 11, item 9)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

import groupsup as gs
from groupsup.cli import main
from groupsup.graph import CentreCover, EdgeStrategy
from groupsup.train import Trainer, load_config
from groupsup.train.checkpoint import save_checkpoint

pytestmark = pytest.mark.usefixtures("fresh_host")


def one_line_error(capsys, argv: list[str]) -> str:
    assert main(argv) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Traceback" not in err
    return err


@pytest.mark.parametrize("strategy", [CentreCover, EdgeStrategy])
def test_single_valued_attribute_is_named_as_the_cause(strategy):
    labels = np.array([[0, 0, 0], [1, 0, 1], [0, 0, 1], [1, 0, 0]])  # column 1 has one value
    graph = gs.MultiGraph(labels)
    single = graph.names[1]
    message = rf"attribute\(s\) \['{single}'\] have only one value .* exact=false"
    options = {"exact": True, "fallback": "off"} if strategy is CentreCover else {"exact": True}
    with pytest.raises(gs.GroupsupError, match=message):
        strategy(graph, options)
    if strategy is CentreCover:  # with the default fallback it trains, and the report says why
        (warning,) = strategy(graph, {"exact": True}).report().warnings()
        assert re.search(message, warning)


def write_folder(root: Path, sizes: list[int]) -> None:
    root.mkdir()
    for i, size in enumerate(sizes):
        Image.new("RGB", (size, size), (i * 40, 0, 0)).save(root / f"{i // 2}_{i % 2}.png")


def folder_config(tmp_path: Path, **options) -> Path:
    config = tmp_path / "c.json"
    config.write_text(json.dumps({
        "dataset": {"name": "folder", "options": {
            "root": str(tmp_path / "images"), "pattern": "{a}_{b}.png",
            "attributes": {"a": 2, "b": 2}, **options}},
        "model": {"options": {"width": 4, "max_width": 8}},
        "train": {"steps": 1, "progress": False, "out": str(tmp_path / "run")}}))
    return config


@pytest.mark.parametrize(("options", "expected"), [
    ({"attributes": {"a": 0, "b": 2}},
     "c.json: key 'dataset.options.attributes.a' = 0: Input should be greater than 0"),
    ({"patern": "x"},
     "c.json: unknown key 'dataset.options.patern' (did you mean 'dataset.options.pattern'?)"),
    ({"image_size": -3},
     "c.json: key 'dataset.options.image_size' = -3: Input should be greater"),
])
def test_folder_options_are_validated_by_train_and_config_show(tmp_path, capsys, options,
                                                               expected):
    write_folder(tmp_path / "images", [8, 8, 8, 8])
    config = str(folder_config(tmp_path, **options))
    assert expected in one_line_error(capsys, ["config", "show", config])
    assert expected in one_line_error(capsys, ["train", config])


@pytest.mark.parametrize("value", ["inf", "nan", "-inf"])
def test_learning_rate_must_be_finite(value):
    with pytest.raises(gs.ConfigError, match=f"key 'optim.lr' = {value}: Input should be"):
        load_config({"dataset": {"name": "store"}}, [f"optim.lr={value}"])


def test_mixed_image_sizes_name_a_file_of_each_size(tmp_path):
    write_folder(tmp_path / "images", [12, 12, 16, 12])  # the first is not a power of two
    config = load_config(json.loads(folder_config(tmp_path).read_text()))
    images = tmp_path / "images"
    with pytest.raises(gs.DataError, match=(  # found by the pre-flight check of every file
            rf"{images / '1_0.png'}: image is 16x16, expected 12x12: the images differ in size "
            rf"\(12x12 is the size of the first file, {images / '0_0.png'}\); set image_size")):
        Trainer(config)
    config.train.check_images = False  # without it, the backbone's refusal says the same
    with pytest.raises(gs.DataError, match=(
            rf"the images differ in size: {images / '0_0.png'} is 12x12, "
            rf"{images / '1_0.png'} is 16x16; set image_size")):
        Trainer(config)


def test_synthesize_refuses_an_input_of_the_wrong_size(tmp_path, capsys):
    model = gs.build_model("conv-small", gs.Schema.define(
        "S", [gs.Attribute(name=n, values=[0, 1], latent=2) for n in "ab"]), (3, 8, 8),
        {"width": 4, "max_width": 8})
    save_checkpoint(tmp_path / "run", 1, model, model.config_dict(), {}, {}, keep=1)
    Image.new("RGB", (8, 8)).save(tmp_path / "ok.png")
    Image.new("RGB", (10, 6)).save(tmp_path / "big.png")
    err = one_line_error(capsys, [
        "synthesize", "--checkpoint", str(tmp_path / "run"), "--out", str(tmp_path / "o.png"),
        "--from", f"a={tmp_path / 'ok.png'}", "--from", f"b={tmp_path / 'big.png'}"])
    assert f"{tmp_path / 'big.png'}: image is 10x6, the model expects 8x8" in err
    assert not (tmp_path / "o.png").exists()
