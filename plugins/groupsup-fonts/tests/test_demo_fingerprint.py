"""The demo's data is the same on every machine: pinned fonts only, and a recorded fingerprint."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from groupsup_fonts.demo import README_FINGERPRINT, demo_config, fingerprint_line
from groupsup_fonts.fingerprint import dataset_fingerprint, store_sha256
from groupsup_fonts.options import FontsOptions, load_fonts

import groupsup as gs

ROOT = Path(__file__).resolve().parents[3]


def demo_options(tmp_path: Path) -> dict:
    options = dict(demo_config()["dataset"]["options"])
    return {**options, "cache_dir": str(tmp_path / "cache"), "progress": False}


def test_the_demo_reads_no_system_font():
    options = demo_config()["dataset"]["options"]
    assert options["system_fonts"] is False and len(options["fonts"]) == 8


def test_the_demo_data_renders_to_the_readmes_fingerprint(tmp_path):
    # the whole demo set (4,800 images of 32 px), rendered as `groupsup demo` renders it:
    # equal to the bit to the data of the README's table, on any machine with the pinned
    # matplotlib (its fonts) and Pillow (its FreeType)
    options = demo_options(tmp_path)
    dataset = load_fonts(FontsOptions.model_validate(options))
    assert len(dataset) == 10 * 3 * 20 * 8  # letters, sizes, colour pairs, fonts
    fingerprint = dataset_fingerprint(options)
    assert [f["name"] for f in fingerprint["fonts"]] == options["fonts"]
    assert fingerprint["id"] == README_FINGERPRINT, (
        f"the demo's data changed: {fingerprint}; if on purpose, record the new id in "
        "groupsup_fonts.demo.README_FINGERPRINT and re-run the README's table")
    assert README_FINGERPRINT in (ROOT / "README.md").read_text(encoding="utf-8")
    # the same store named directly (as `render-fonts --layout store` output is) has the same id
    store = next((tmp_path / "cache").iterdir())
    assert dataset_fingerprint({"store": str(store)}) == fingerprint
    assert "the same data" in fingerprint_line(fingerprint)
    assert "differs from the README's" in fingerprint_line({**fingerprint, "id": "0" * 16})


def test_the_store_hash_sees_one_pixel(tmp_path):
    store = tmp_path / "store"
    store.mkdir()
    images = np.zeros((4, 8, 8, 3), np.uint8)
    np.save(store / "images.npy", images)
    np.save(store / "labels.npy", np.zeros((4, 5), np.int64))
    before = store_sha256(store)
    images[2, 3, 4, 1] = 1
    np.save(store / "images.npy", images)
    assert store_sha256(store) != before
    (store / "labels.npy").unlink()
    with pytest.raises(gs.DataError, match=r"labels\.npy missing"):
        store_sha256(store)


def test_a_folder_tree_or_a_store_of_other_data_has_no_fingerprint(tmp_path):
    with pytest.raises(gs.DataError, match="no rendered store to fingerprint"):
        dataset_fingerprint({"root": str(tmp_path)})
    (tmp_path / "manifest.json").write_text('{"format": "groupsup.store/1"}')
    with pytest.raises(gs.DataError, match=r"manifest\.json: not the manifest of a rendered "
                                           r"Fonts store \(KeyError"):
        dataset_fingerprint({"store": str(tmp_path)})
