"""CSV manifests are read as CSV: labels keep their characters, every image is listed once."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

import groupsup as gs


class Colour(gs.Schema):
    colour = gs.Attribute(latent=2)


def tree(tmp_path, n: int = 4):
    root = tmp_path / "data"
    root.mkdir()
    for k in range(n):
        Image.fromarray(np.full((4, 4, 3), 40 * k, np.uint8)).save(root / f"{k}.png")
    return root


@pytest.mark.parametrize("label", ["gr\neen", "gr\r\neen", "gr\x0ceen", "gr\u2028een",
                                   "gr\u0085een"])
def test_a_quoted_label_keeps_a_line_break_inside_it(tmp_path, label):
    root = tree(tmp_path)
    body = f'path,colour\n0.png,"{label}"\n1.png,green\n2.png,"{label}"\n3.png,red\n'
    (root / "labels.csv").write_bytes(body.encode("utf-8"))
    data = gs.GroupDataset.from_folder(Colour, root, manifest="labels.csv")
    assert len(data) == 4
    values = data.schema["colour"].values
    assert sorted(values) == sorted([label, "green", "red"])  # not merged with green
    codes = data.labels[:, 0]
    assert codes[0] == codes[2] != codes[1]


def test_a_byte_order_mark_does_not_rename_the_first_column(tmp_path):
    root = tree(tmp_path, 2)
    (root / "labels.csv").write_bytes(b"\xef\xbb\xbfpath,colour\n0.png,red\n1.png,blue\n")
    assert len(gs.GroupDataset.from_folder(Colour, root, manifest="labels.csv")) == 2


@pytest.mark.parametrize("second, says", [
    ("0.png,blue", r"rows 1 and 3 both list '0\.png' with different labels"),
    ("./0.png,red", r"rows 1 and 3 both list '\./0\.png' \(the same labels twice\)"),
])
def test_an_image_listed_twice_is_refused_naming_both_rows(tmp_path, second, says):
    root = tree(tmp_path, 2)
    (root / "labels.csv").write_text(f"path,colour\n0.png,red\n1.png,blue\n{second}\n")
    with pytest.raises(gs.DataError, match=rf"labels\.csv: {says}"):
        gs.GroupDataset.from_folder(Colour, root, manifest="labels.csv")


def test_a_malformed_row_names_its_line(tmp_path):
    root = tree(tmp_path, 2)
    (root / "labels.csv").write_bytes(b'path,colour\n0.png,red\n1.png,"bl"ue\n')
    with pytest.raises(gs.DataError, match=r"labels\.csv: line \d: malformed CSV"):
        gs.GroupDataset.from_folder(Colour, root, manifest="labels.csv")
