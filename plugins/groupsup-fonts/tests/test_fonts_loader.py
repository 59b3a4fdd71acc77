"""The released folder layout and stores: round trips, resume, corrupt and missing files."""

from __future__ import annotations

import json
import multiprocessing
import shutil
from pathlib import Path

import numpy as np
import pytest
from groupsup_fonts import RenderPlan, load_folder, load_store, render_folder, render_store
from groupsup_fonts.layout import parse_relative, relative_path
from groupsup_fonts.loader import scan_folder
from groupsup_fonts.writers import _StoreChunks

import groupsup as gs


def by_label(dataset: gs.GroupDataset) -> dict[tuple, int]:
    return {tuple(r.values()): i for i, r in enumerate(dataset.records())}


def test_tree_round_trip_matches_the_store(mini_tree: Path, mini_store: Path,
                                           mini_plan: RenderPlan) -> None:
    tree, store = load_folder(mini_tree), load_store(mini_store)
    assert len(tree) == len(store) == len(mini_plan) == 144
    assert tree.schema.same_as(store.schema)
    rows = [by_label(tree)[key] for key in by_label(store)]
    assert np.array_equal(tree.load_uint8(rows), store.load_uint8(np.arange(len(store))))
    manifest = json.loads((mini_store / "manifest.json").read_text())["fonts"]
    assert {f["name"] for f in manifest["font_files"]} == {"dejavusans", "dejavuserifbold"}
    assert all(len(f["sha256"]) == 64 for f in manifest["font_files"])
    assert manifest["vocabularies"]["letter"] == ["A", "B", "a", "b"]


def test_paths_parse_both_namings_and_the_reference_spelling() -> None:
    plain = relative_path("a", "small", "yellow", "red", "freeserif").split("/")
    assert parse_relative(tuple(plain))["letter"] == "a"
    safe = relative_path("a", "small", "yellow", "red", "freeserif", "case-safe")
    assert safe.startswith("lower-a/") and parse_relative(tuple(safe.split("/")))["letter"] == "a"
    reference = ("A", "large", "Yellow", "red", "ubuntu", "A_large_Yellow_red_ubuntu.png")
    assert parse_relative(reference)["font_color"] == "yellow"
    merged = ("A", "large", "red", "blue", "ubuntu", "a_large_red_blue_ubuntu.png")
    assert "case-insensitive" in parse_relative(merged)


def test_corrupt_png_is_named(mini_tree: Path, tmp_path: Path) -> None:
    tree = shutil.copytree(mini_tree, tmp_path / "tree")
    victim = tree / relative_path("B", "medium", "green", "blue", "dejavusans")
    victim.write_bytes(victim.read_bytes()[:40])
    with pytest.raises(gs.DataError, match="1 corrupt files") as err:
        load_folder(tree)
    assert str(victim) in str(err.value) and "truncated PNG" in str(err.value)


def test_missing_combinations_are_reported(mini_tree: Path, tmp_path: Path) -> None:
    tree = shutil.copytree(mini_tree, tmp_path / "tree")
    (tree / relative_path("b", "large", "red", "green", "dejavuserifbold")).unlink()
    (tree / relative_path("A", "small", "blue", "red", "dejavusans")).unlink()
    scan = scan_folder(tree)
    assert len(scan.missing) == 2
    assert {"letter": "A", "size": "small", "font_color": "blue", "back_color": "red",
            "font": "dejavusans"} in scan.missing_records
    with pytest.raises(gs.DataError, match="2 missing combinations") as err:
        load_folder(tree)
    assert "letter=A size=small font_color=blue back_color=red font=dejavusans" in str(err.value)
    assert len(load_folder(tree, allow_missing=True)) == 142


def test_unexpected_paths_are_named(mini_tree: Path, tmp_path: Path) -> None:
    tree = shutil.copytree(mini_tree, tmp_path / "tree")
    stray = tree / "A" / "huge" / "red" / "blue" / "dejavusans"
    stray.mkdir(parents=True)
    (stray / "A_huge_red_blue_dejavusans.png").write_bytes(b"")
    with pytest.raises(gs.DataError, match="size 'huge' is not one of small, medium, large"):
        load_folder(tree)


def test_folder_render_resumes_and_refuses_other_plans(mini_tree: Path, mini_plan: RenderPlan,
                                                       tmp_path: Path) -> None:
    tree = shutil.copytree(mini_tree, tmp_path / "tree")
    gone = tree / relative_path("a", "large", "green", "red", "dejavusans")
    broken = tree / relative_path("B", "small", "red", "blue", "dejavuserifbold")
    original = broken.read_bytes()
    gone.unlink()
    broken.write_bytes(original[:-5])
    result = render_folder(mini_plan, tree, progress=False)
    assert (result.rendered, result.skipped) == (2, 142)
    assert broken.read_bytes() == original and gone.is_file()
    other = RenderPlan(mini_plan.fonts, 64, letters=mini_plan.letters)
    with pytest.raises(gs.DataError, match="other options"):
        render_folder(other, tree, progress=False)


def test_case_safe_naming_round_trip(mini_plan: RenderPlan, tmp_path: Path) -> None:
    render_folder(mini_plan, tmp_path / "safe", naming="case-safe", progress=False)
    assert sorted(p.name for p in (tmp_path / "safe").iterdir()) == \
        ["A", "B", "lower-a", "lower-b", "manifest.json"]
    assert sorted({r["letter"] for r in load_folder(tmp_path / "safe").records()}) == \
        ["A", "B", "a", "b"]


def test_interrupted_store_render_resumes(mini_plan: RenderPlan, mini_store: Path,
                                          tmp_path: Path, monkeypatch) -> None:
    original = _StoreChunks.__call__
    calls = []

    def failing(self, chunk):
        if len(calls) == 3:
            raise KeyboardInterrupt
        calls.append(chunk)
        return original(self, chunk)

    monkeypatch.setattr(_StoreChunks, "__call__", failing)
    with pytest.raises(KeyboardInterrupt):
        render_store(mini_plan, tmp_path / "store", progress=False)
    assert not (tmp_path / "store").exists()
    progress = (tmp_path / ".store.partial" / "progress.txt").read_text().split()
    assert progress == ["0", "1", "2"]
    monkeypatch.setattr(_StoreChunks, "__call__", original)
    result = render_store(mini_plan, tmp_path / "store", progress=False)
    assert result.rendered == len(mini_plan) - 3 * mini_plan.chunk_size
    assert not (tmp_path / ".store.partial").exists()
    for name in ("images.npy", "labels.npy"):
        assert (tmp_path / "store" / name).read_bytes() == (mini_store / name).read_bytes()
    again = render_store(mini_plan, tmp_path / "store", progress=False)
    assert again.rendered == 0


def test_parallel_store_render_is_identical(mini_plan: RenderPlan, mini_store: Path,
                                            tmp_path: Path) -> None:
    result = render_store(mini_plan, tmp_path / "store", workers=2, progress=False)
    assert result.rendered == len(mini_plan)
    assert (tmp_path / "store" / "images.npy").read_bytes() == \
        (mini_store / "images.npy").read_bytes()


def _render_into(plan: RenderPlan, path: Path, results) -> None:
    results.put(render_store(plan, path, progress=False).rendered)


def test_concurrent_renders_of_one_store_take_turns(mini_plan: RenderPlan,
                                                    tmp_path: Path) -> None:
    context = multiprocessing.get_context("fork")
    results = context.Queue()
    procs = [context.Process(target=_render_into, args=(mini_plan, tmp_path / "s", results))
             for _ in range(2)]
    for proc in procs:
        proc.start()
    for proc in procs:
        proc.join(60)
    assert [proc.exitcode for proc in procs] == [0, 0]
    assert sorted(results.get(timeout=5) for _ in procs) == [0, len(mini_plan)]
