"""``synthesize --groups``: requested labels on the sheet, and a ground-truth column."""

import json

import numpy as np
import pytest
from PIL import Image

import groupsup.cli.train as cli_train
from groupsup.cli import main
from groupsup.imaging import image_grid

NAMES = ["shape", "color", "position"]


pytestmark = pytest.mark.usefixtures("fresh_host")


def _group(folder, paths, labels=None, truth=None):
    folder.mkdir(parents=True)
    for name, path in zip(NAMES, paths):
        (folder / f"{name}.png").write_bytes(path.read_bytes())
    if labels is not None:
        (folder / "labels.json").write_text(json.dumps(labels))
    if truth is not None:
        (folder / "truth.png").write_bytes(truth.read_bytes())


def test_sheet_shows_requested_labels_and_truth(toy_run, tmp_path, monkeypatch):
    root, _, paths = toy_run
    groups = tmp_path / "groups"
    _group(groups / "g1", paths, {"shape": "plus", "color": "green"}, truth=paths[3])
    _group(groups / "g2", paths)
    calls = []

    def recording_grid(rows, *args, **kwargs):
        calls.append((rows, args, kwargs))
        return image_grid(rows, *args, **kwargs)

    monkeypatch.setattr(cli_train, "image_grid", recording_grid)
    out = tmp_path / "out"
    assert main(["synthesize", "--checkpoint", str(root / "run"), "--groups", str(groups),
                 "--out", str(out)]) == 0
    rows, (row_labels, columns), kwargs = calls[-1]  # the whole sheet
    assert row_labels == ["g1", "g2"]
    assert columns == [*NAMES, "output", "truth"]
    assert kwargs["captions"] == [["plus", "green", ""], ["", "", ""]]
    assert [len(r) for r in rows] == [5, 4]  # g2 has no truth.png
    np.testing.assert_array_equal(rows[0][4], np.asarray(Image.open(paths[3])))
    # On the sheet: 16 px tiles enlarged 4x, a 14 px header, an 18 px caption line per row.
    sheet = np.asarray(Image.open(out / "sheet.png").convert("RGB"))
    label_w, pad, side = 8 + 7 * 2, 2, 64
    assert sheet.shape == (14 + 2 * (side + 18 + pad) + pad, label_w + 5 * (side + pad) + pad, 3)
    x, y = label_w + pad + 4 * (side + pad), 14 + pad
    truth = np.asarray(Image.open(paths[3]).resize((side, side), Image.Resampling.NEAREST))
    np.testing.assert_array_equal(sheet[y:y + side, x:x + side], truth)
    under_shape = sheet[y + side:y + side + 12, label_w + pad:label_w + pad + side]
    assert (under_shape < 128).any()  # the caption 'plus' is drawn under g1's shape tile
    assert sorted(p.name for p in out.iterdir()) == ["g1.png", "g2.png", "sheet.png"]


def test_labels_json_errors_name_the_file(toy_run, tmp_path, capsys):
    root, _, paths = toy_run
    base = ["synthesize", "--checkpoint", str(root / "run"), "--out", str(tmp_path / "o")]
    _group(tmp_path / "a" / "g", paths, {"shap": "plus"})
    assert main([*base, "--groups", str(tmp_path / "a")]) == 1
    err = capsys.readouterr().err
    assert "g/labels.json: no attribute 'shap' (did you mean 'shape'?)" in err
    _group(tmp_path / "b" / "g", paths, {"color": "gren"})
    assert main([*base, "--groups", str(tmp_path / "b")]) == 1
    err = capsys.readouterr().err
    assert "color = 'gren' is not a value the model was trained on (did you mean 'green'?)" in err
    _group(tmp_path / "c" / "g", paths, ["plus"])
    assert main([*base, "--groups", str(tmp_path / "c")]) == 1
    assert "expected a JSON object attribute -> requested value" in capsys.readouterr().err


def test_captions_are_cut_to_the_tile_width():
    tiles = np.zeros((2, 8, 8, 3), np.uint8)
    plain = image_grid([tiles], min_size=8)
    sheet = np.asarray(image_grid([tiles], min_size=8, captions=[["a-very-long-label", ""]]))
    assert sheet.shape[0] == plain.size[1] + 18
    second = sheet[-18:, 2 + 8 + 2:]  # nothing spills under the second tile
    assert (second == 255).all()
