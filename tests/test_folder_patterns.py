"""File-name patterns of the `folder` dataset: ignored parts, and errors that say where."""

import json
import re

import numpy as np
import pytest
from PIL import Image

import groupsup as gs
from groupsup.cli import main
from groupsup.data.folder import NamePattern

pytestmark = pytest.mark.usefixtures("fresh_host")


def _tree(root, names):
    for name in names:
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        Image.fromarray(np.full((4, 4, 3), len(name) * 9, np.uint8)).save(path)
    return root


# Non-grid coloured digits: an id per file that is not a label.
DIGITS = [f"{d}_{i:04d}_{c}.png" for i, (d, c) in
          enumerate([(d, c) for d in range(3) for c in ("red", "blue")])]


def test_ignored_fields_are_not_attributes(tmp_path):
    batch = _tree(tmp_path / "batch1", DIGITS)
    spec = gs.get_host().datasets.get("folder")
    for root, pattern in ((batch, "{digit}_{_}_{color}.png"), (batch, "{digit}_{_id}_{color}.png"),
                          (batch, "{digit}_*_{color}.png"), (tmp_path, "*/{digit}_*_{color}.png")):
        data = spec.build({"root": str(root), "pattern": pattern,
                           "attributes": {"digit": 2, "color": 2}})
        assert data.schema.names == ("digit", "color"), pattern
        assert sorted(data.records(), key=str) == sorted(
            ({"digit": d, "color": c} for d in ("0", "1", "2") for c in ("red", "blue")), key=str)


def test_star_may_be_empty_but_an_ignored_field_may_not():
    assert NamePattern("{a}*.png").match("x.png") == {"a": "x"}
    assert NamePattern("{a}{_}.png").match("xy.png") == {"a": "x"}
    assert NamePattern("{a}_{_}.png").match("x_.png") is None
    assert NamePattern("{a}/*.png").match("x/y/z.png") is None  # never across '/'


def test_graph_cli_leaves_ignored_fields_out(tmp_path, capsys):
    root = _tree(tmp_path, DIGITS)
    assert main(["graph", str(root), "--pattern", "{digit}_{_}_{color}.png", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["attributes"] == {"digit": 3, "color": 2}


def test_mismatch_error_says_which_part_failed(tmp_path):
    root = _tree(tmp_path, ["digit_3_red_ink1.png", "digit_4_blue.png"])
    spec = gs.get_host().datasets.get("folder")
    options = {"root": str(root), "pattern": "digit_{digit}_{color}_{ink}.png",
               "attributes": {"digit": 2, "color": 2, "ink": 2}}
    message = re.escape("digit_4_blue.png: file name does not match pattern "
                        "'digit_{digit}_{color}_{ink}.png': after 'digit_4_' expected field "
                        "'color' (non-empty, no '/') then '_', found 'blue.png'")
    with pytest.raises(gs.DataError, match=message):
        spec.build(options)


@pytest.mark.parametrize(("pattern", "name", "says"), [
    ("img_{a}.png", "pic_3.png", "at the start expected 'img_', found 'pic_3.png'"),
    ("{a}/{a}_x.png", "A/B_x.png",
     "after 'A/' expected field 'a' again (the same value 'A'), found 'B_x.png'"),
    ("{a}_{_id}.png", "3.png", "at the start expected field 'a' (non-empty, no '/') then '_', "
                               "found '3.png'"),
    ("{a}/{b}", "s/t/u.png", "the pattern ends after 's/t' but the name goes on: '/u.png'"),
    ("{a}_{b}.png", "x_.png", "after 'x_' expected field 'b' (non-empty, no '/') then '.png', "
                              "found '.png'"),
])
def test_explain_names_the_failing_literal_or_field(pattern, name, says):
    assert NamePattern(pattern).match(name) is None
    assert NamePattern(pattern).explain(name) == says


def test_no_match_at_all_explains_one_file(tmp_path):
    root = _tree(tmp_path, ["a.png", "b.png"])
    schema = gs.Schema.define("S", [gs.Attribute(name="x", latent=1)])
    with pytest.raises(gs.DataError, match=r"no image files match pattern 'img_\{x\}\.png' "
                                           r"\(a\.png: at the start expected 'img_'"):
        gs.GroupDataset.from_folder(schema, root, pattern="img_{x}.png", strict=False)


def test_an_attribute_without_a_field_hints_at_ignored_fields(tmp_path):
    schema = gs.Schema.define("S", [gs.Attribute(name="x", latent=1),
                                    gs.Attribute(name="y", latent=1)])
    with pytest.raises(gs.DataError, match=r"lacks fields for attributes \['y'\] \(fields "
                                           r"written \{_name\} or \* are ignored"):
        gs.GroupDataset.from_folder(schema, _tree(tmp_path, DIGITS), pattern="{x}_{_y}.png")
