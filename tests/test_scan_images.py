"""``gs.scan_images``: the one scan -> parse loop of the folder dataset, iLab and RaFD."""

import re

import pytest

import groupsup as gs


def touch(root, *names):
    for name in names:
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"")


def test_labels_kept_files_in_path_order_and_counts_every_image(tmp_path):
    touch(tmp_path, "b/red_2.png", "a/blue_1.JPG", "a/skip_3.png", "notes.txt")

    def parse(path):
        color, _ = path.stem.split("_")
        return None if color == "skip" else {"color": color}

    scan = gs.scan_images(tmp_path, parse)
    assert scan.paths == [tmp_path / "a/blue_1.JPG", tmp_path / "b/red_2.png"]
    assert scan.records == [{"color": "blue"}, {"color": "red"}]
    assert scan.files == 3  # the .txt is not an image


def test_every_file_is_parsed_before_one_error_names_the_first_and_counts_the_rest(tmp_path):
    touch(tmp_path, "ok_1.png", "x.png", "y.png", "z.png")
    seen = []

    def parse(path):
        seen.append(path.name)
        if "_" not in path.stem:
            raise ValueError("has no '_'")
        return {}

    with pytest.raises(gs.DataError, match=re.escape(
            f"{tmp_path / 'x.png'}: has no '_' (and 2 more bad files)")):
        gs.scan_images(tmp_path, parse)
    assert seen == ["ok_1.png", "x.png", "y.png", "z.png"]


def test_suffixes_choose_the_image_files(tmp_path):
    touch(tmp_path, "a.png", "b.jpg", "c.bmp")
    assert ".bmp" in gs.IMAGE_SUFFIXES
    assert gs.scan_images(tmp_path, lambda p: {}).files == 3
    only_jpg = gs.scan_images(tmp_path, lambda p: {}, suffixes=(".JPG",))
    assert only_jpg.paths == [tmp_path / "b.jpg"]


def test_a_missing_root_is_named(tmp_path):
    with pytest.raises(gs.DataError, match=re.escape(f"{tmp_path / 'none'}: folder not found")):
        gs.scan_images(tmp_path / "none", lambda p: {})


class Toy(gs.Schema):
    letter = gs.Attribute(latent=2)
    k = gs.Attribute(latent=2)


def test_the_folder_dataset_counts_every_file_its_pattern_does_not_match(tmp_path):
    touch(tmp_path, "a_1.png", "b-2.png", "c-3.png")
    with pytest.raises(gs.DataError, match=re.escape(
            f"{tmp_path / 'b-2.png'}: file name does not match pattern '{{letter}}_{{k}}.png'")
            + r".*\(and 1 more bad file\)$"):
        gs.GroupDataset.from_folder(Toy, tmp_path, pattern="{letter}_{k}.png")
