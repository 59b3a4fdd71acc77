"""Plugin problems reach the user on every command, and lookups name the plugin that failed."""

import textwrap
from pathlib import Path

import pytest
from conftest import toy_config, write_config

from groupsup.cli import main
from groupsup.plugins import PLUGINS_ENV, reset_host

FAILING_BACKBONES = """
    import groupsup as gs

    @gs.hookimpl
    def register_backbones(register):
        raise RuntimeError("weights server unreachable")
"""

COLLIDING_BACKBONE = """
    import groupsup as gs
    from groupsup.backbones import ConvSmall

    @gs.hookimpl
    def register_backbones(register):
        register("conv-small", ConvSmall)
"""

FAILING_DATASETS = """
    import groupsup as gs

    @gs.hookimpl
    def register_datasets(register):
        raise ValueError("bad options model")
"""


@pytest.fixture
def plugins(tmp_path, monkeypatch):
    """Install local plugin modules through ``GROUPSUP_PLUGINS``: ``plugins(name=body, ...)``."""

    def install(**bodies: str) -> None:
        paths = []
        for name, body in bodies.items():
            paths.append(tmp_path / f"{name}.py")
            paths[-1].write_text(textwrap.dedent(body))
        monkeypatch.setenv(PLUGINS_ENV, ",".join(map(str, paths)))
        reset_host()

    yield install
    reset_host()


@pytest.fixture
def store_config(tmp_path, toy_dataset):
    store = toy_dataset.write_store(tmp_path / "store")

    def write(backbone: str) -> Path:
        return write_config(tmp_path / "exp.json", toy_config(
            store, tmp_path / "run", name="exp", model={"backbone": backbone, "options": {}},
            train={"steps": 1}))

    return write


def test_a_failing_register_hook_is_shown_by_every_command(plugins, capsys):
    plugins(failing_bb=FAILING_BACKBONES)
    for argv in (["datasets"], ["config", "schema"]):
        assert main(argv) == 0
        err = capsys.readouterr().err
        warnings = [line for line in err.splitlines() if "failing_bb" in line]
        assert len(warnings) == 1, err  # once, as a warning
        assert warnings[0].startswith("groupsup: warning: ")
        assert "register_backbones" in warnings[0] and "weights server unreachable" in warnings[0]


def test_train_names_the_failed_plugin_of_a_missing_backbone(plugins, store_config, capsys):
    plugins(failing_bb=FAILING_BACKBONES)
    assert main(["train", str(store_config("my-net"))]) == 1
    err = capsys.readouterr().err
    assert "groupsup: warning: plugin 'failing_bb'" in err
    error = err.strip().splitlines()[-1]
    assert error.startswith("groupsup: error: no backbone named 'my-net'")
    assert "plugin 'failing_bb'" in error and "RuntimeError: weights server unreachable" in error


def test_a_plugin_that_fails_to_import_is_named_by_lookups(plugins, capsys):
    plugins(broken_import="raise ImportError('needs package xyz')\n")
    assert main(["graph", "my-dataset"]) == 1
    error = capsys.readouterr().err.strip().splitlines()[-1]
    assert "my-dataset" in error and "broken_import" in error and "needs package xyz" in error


def test_a_failing_dataset_hook_is_named_by_graph(plugins, capsys):
    plugins(failing_ds=FAILING_DATASETS)
    assert main(["graph", "mine"]) == 1
    err = capsys.readouterr().err
    assert err.count("bad options model") == 2  # the warning, then the error naming the plugin
    assert "failed in register_datasets" in err.strip().splitlines()[-1]


def test_a_name_colliding_with_a_builtin_is_not_silent_on_train(plugins, store_config,
                                                                  capsys):
    plugins(shadow=COLLIDING_BACKBONE)
    assert main(["train", str(store_config("conv-small")), "--set", "train.threads=1"]) == 0
    err = capsys.readouterr().err
    line = next(line for line in err.splitlines() if "'conv-small'" in line)
    assert line.startswith("groupsup: warning: ")
    assert "'shadow'" in line and "'shadow:conv-small'" in line
