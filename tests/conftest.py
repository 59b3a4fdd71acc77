"""Shared fixtures: a tiny procedural dataset small enough to train on in seconds, a tiny
experiment config on it, and a fresh plugin host."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

import groupsup as gs
from groupsup.plugins import reset_host

COLORS = {"red": (220, 20, 60), "green": (0, 128, 0), "blue": (0, 0, 255)}


class Toy(gs.Schema):
    shape = gs.Attribute(values=["square", "plus"], latent=4)
    color = gs.Attribute(values=list(COLORS), latent=4)
    position = gs.Attribute(values=["left", "right"], latent=4)


def toy_images(labels: np.ndarray, size: int = 16) -> np.ndarray:
    """uint8 (N, size, size, 3): a coloured square or plus on the left or the right."""
    n = len(labels)
    images = np.full((n, size, size, 3), 255, dtype=np.uint8)
    yy, xx = np.mgrid[0:size, 0:size]
    rgb = np.array(list(COLORS.values()), dtype=np.uint8)
    for i, (shape, color, position) in enumerate(labels.tolist()):
        cx = size // 4 if position == 0 else 3 * size // 4
        cy, r = size // 2, size // 5
        box = (abs(xx - cx) <= r) & (abs(yy - cy) <= r)
        mask = box if shape == 0 else box & ((abs(xx - cx) <= r // 2) | (abs(yy - cy) <= r // 2))
        images[i][mask] = rgb[color]
    return images


def toy_labels(copies: int = 2) -> np.ndarray:
    grid = np.stack(np.meshgrid(range(2), range(3), range(2), indexing="ij"), -1).reshape(-1, 3)
    return np.repeat(grid, copies, axis=0)


@pytest.fixture
def toy_dataset() -> gs.GroupDataset:
    labels = toy_labels()
    return gs.GroupDataset.from_arrays(Toy, toy_images(labels), labels, name="toy")


@pytest.fixture(scope="module")
def one_thread():
    """Small convolutions run fastest on one torch thread, above all on a shared machine."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(autouse=True)
def _image_check_cache(tmp_path_factory, monkeypatch):
    """The pre-flight image check caches into a per-session folder, not the user's ~/.cache."""
    monkeypatch.setenv("GROUPSUP_CACHE_DIR", str(tmp_path_factory.getbasetemp() / "cache"))


@pytest.fixture
def fresh_host():
    """A plugin host built afresh for the test (and dropped after it), so that plugins, env
    variables and registrations of one test do not leak into the next; opt in with
    ``pytestmark = pytest.mark.usefixtures("fresh_host")``."""
    reset_host()
    yield
    reset_host()


def toy_config(store: str | Path, out: str | Path, **sections: Any) -> dict[str, Any]:
    """A tiny experiment on the store at *store*, writing into *out*: conv-small of width 8..16,
    2 steps of 2 groups on one thread, no progress bar.

    *sections* update a table key by key (``train={"steps": 5}``) or set a top-level key
    (``seed=5``).
    """
    config: dict[str, Any] = {
        "name": "toy",
        "dataset": {"name": "store", "options": {"path": str(store)}},
        "model": {"backbone": "conv-small", "options": {"width": 8, "max_width": 16}},
        "train": {"steps": 2, "groups_per_step": 2, "progress": False, "threads": 1,
                  "out": str(out)},
    }
    for key, value in sections.items():
        table = config.get(key)
        config[key] = {**table, **value} if isinstance(table, dict) else value
    return config


def write_config(path: Path, config: dict[str, Any]) -> Path:
    """*config* as a JSON experiment file at *path* (which should end in ``.json``)."""
    path.write_text(json.dumps(config, indent=1))
    return path


@pytest.fixture
def toy_run(tmp_path_factory, toy_dataset, fresh_host) -> tuple[Path, Path, list[Path]]:
    """``(root, config, images)``: a two-step run of :func:`toy_config` trained by
    ``groupsup train`` into ``root / "run"``, its config file, and the toy images 0..3 as PNG
    files in *root*."""
    from PIL import Image

    from groupsup.cli import main

    root = tmp_path_factory.mktemp("toy-run")
    store = toy_dataset.write_store(root / "store")
    config = write_config(root / "toy.json", toy_config(store, root / "run"))
    assert main(["train", str(config)]) == 0
    reset_host()  # the next command builds its own host, as a new process would
    images = []
    for i, pixels in enumerate(toy_dataset.load_uint8(np.arange(4))):
        images.append(root / f"img{i}.png")
        Image.fromarray(pixels).save(images[-1])
    return root, config, images


class Styled(gs.Schema):
    """:class:`Toy` without its position label: left or right is the unlabelled block's."""

    shape = gs.Attribute(values=["square", "plus"], latent=4)
    color = gs.Attribute(values=list(COLORS), latent=4)
    style = gs.Free(latent=3)


def styled_run(out: Path) -> tuple[Path, gs.GroupDataset]:
    """``(run directory, dataset)``: a two-step run (16 px) of a model with the unlabelled
    block ``style``, trained by :func:`groupsup.train` on the toy images labelled by shape and
    colour only (their position is the variation no label names)."""
    labels = toy_labels()
    data = gs.GroupDataset.from_arrays(Styled, toy_images(labels), labels[:, :2],
                                       name="styled")
    model = gs.build_model("conv-small", Styled, data.image_shape,
                               {"width": 8, "max_width": 16})
    run = gs.train(model, data, steps=2, groups_per_step=2, out=out, progress=False, threads=1)
    reset_host()  # what comes next builds its own host, as a new process would
    return run.run_dir, data
