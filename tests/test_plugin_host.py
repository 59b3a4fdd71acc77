"""The plugin host calls hooks through pluggy's own loop, keeps plugins isolated and attributed,
and disables installed plugins by name (GROUPSUP_DISABLE_PLUGINS or a config's
``disable_plugins``)."""

import json
import textwrap
from pathlib import Path

import pytest

import groupsup as gs
from groupsup.cli import main
from groupsup.plugins import DISABLE_ENV, PLUGINS_ENV, PluginHost, reset_host


def write_plugin(folder: Path, name: str, body: str) -> Path:
    path = folder / f"{name}.py"
    path.write_text(textwrap.dedent(body))
    return path


METRIC = """
    import groupsup as gs

    @gs.hookimpl{marker}
    def register_evaluations(register):
        register("{name}", len)
"""


def test_hooks_are_called_through_pluggys_loop(tmp_path):
    """tryfirst orders the calls and pluggy's call monitoring sees one register_evaluations call."""
    early = write_plugin(tmp_path, "early", METRIC.format(marker="(tryfirst=True)", name="e"))
    late = write_plugin(tmp_path, "late", METRIC.format(marker="", name="l"))
    host = PluginHost(entry_points=False, local=f"{early},{late}")
    calls: list[str] = []
    host.pm.add_hookcall_monitoring(
        lambda hook, impls, kwargs: calls.append(f"{hook}:{impls[-1].plugin_name}"),
        lambda outcome, hook, impls, kwargs: None)
    evaluations = host.evaluations
    assert evaluations.entry("e").plugin == "early" and evaluations.entry("l").plugin == "late"
    # pluggy calls the last impl first: tryfirst's
    assert calls == ["register_evaluations:early"]
    assert host.plugins["late"].registered == {"evaluations": ["l"]}


def test_a_hook_wrapper_encloses_the_other_plugins(tmp_path):
    wrapper = write_plugin(tmp_path, "wrapping", """
        import groupsup as gs

        @gs.hookimpl(wrapper=True)
        def register_evaluations(register):
            register("before", len)
            result = yield
            register("after", len)
            return result
    """)
    host = PluginHost(entry_points=False, local=str(wrapper))
    assert {"before", "after", "dci"} <= set(host.evaluations.names())
    assert host.evaluations.entry("after").plugin == "wrapping"


def test_a_failing_hook_is_named_and_the_others_still_register(tmp_path):
    good = write_plugin(tmp_path, "good", METRIC.format(marker="", name="kept"))
    bad = write_plugin(tmp_path, "bad", """
        import groupsup as gs

        @gs.hookimpl(tryfirst=True)
        def register_evaluations(register):
            register("lost-or-not", len)
            raise KeyError("no weights")
    """)
    host = PluginHost(entry_points=False, local=f"{good},{bad}")
    assert "kept" in host.evaluations and "mig" in host.evaluations  # called after the failure
    assert "lost-or-not" in host.evaluations  # what it registered before failing stays
    assert any(p.startswith("plugin 'bad' ((local)) failed in register_evaluations: KeyError")
               for p in host.problems)
    with pytest.raises(gs.RegistryError, match=r"plugin 'bad'.*no weights"):
        host.evaluations.get("missing")


def test_a_failing_hook_wrapper_is_named(tmp_path):
    path = write_plugin(tmp_path, "badwrap", """
        import groupsup as gs

        @gs.hookimpl(hookwrapper=True)
        def register_evaluations(register):
            raise RuntimeError("wrapper broke")
            yield
    """)
    host = PluginHost(entry_points=False, local=str(path))
    host.load_all()
    assert any("plugin 'badwrap'" in p and "wrapper broke" in p for p in host.problems)
    assert "plugins" in host.commands  # other hooks unaffected


def test_registering_without_a_name_is_the_plugins_failure(tmp_path):
    path = write_plugin(tmp_path, "noname", METRIC.format(marker="", name=""))
    host = PluginHost(entry_points=False, local=str(path))
    assert any("plugin 'noname'" in p and "has no name" in p for p in host.evaluations.failures)


def test_disabled_plugins_are_not_imported_and_listed(tmp_path, monkeypatch):
    broken = write_plugin(tmp_path, "broken", "raise RuntimeError('must not be imported')\n")
    good = write_plugin(tmp_path, "good", METRIC.format(marker="", name="kept"))
    monkeypatch.setenv(DISABLE_ENV, "broken")
    host = PluginHost(entry_points=False, local=f"{broken},{good}", disable=["good"])
    assert host.problems == []
    assert host.plugins["broken"].disabled and host.plugins["good"].disabled
    assert "kept" not in host.evaluations


def test_disabling_by_distribution_name(tmp_path):
    path = write_plugin(tmp_path, "anything", METRIC.format(marker="", name="x"))
    host = PluginHost(entry_points=False, local=str(path), disable=["(local)"])
    assert host.plugins["anything"].disabled and "x" not in host.evaluations


def test_an_unknown_disabled_name_is_reported_with_a_suggestion(tmp_path):
    path = write_plugin(tmp_path, "fancy", METRIC.format(marker="", name="x"))
    host = PluginHost(entry_points=False, local=str(path), disable=["fancyy"])
    assert any("'fancyy'" in p and "did you mean 'fancy'" in p for p in host.problems)


@pytest.mark.parametrize("name", ["groupsup", "groupsup.cli.info"])
def test_builtin_plugins_cannot_be_disabled(name):
    with pytest.raises(gs.PluginError, match=f"'{name}'.*built-in plugins cannot be disabled"):
        PluginHost(entry_points=False, local="", disable=[name])


@pytest.fixture
def local_plugins(tmp_path, monkeypatch):
    broken = write_plugin(tmp_path, "broken_cli", "raise RuntimeError('boom')\n")
    monkeypatch.setenv(PLUGINS_ENV, str(broken))
    reset_host()
    yield
    reset_host()


def test_groupsup_plugins_lists_disabled_plugins(local_plugins, monkeypatch, capsys):
    monkeypatch.setenv(DISABLE_ENV, "broken_cli")
    assert main(["plugins"]) == 0
    out, err = capsys.readouterr()
    assert "boom" not in err
    assert "broken_cli  [(local) -, local]\n    disabled (" in out
    assert main(["plugins", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)["plugins"]
    assert next(r for r in rows if r["plugin"] == "broken_cli")["disabled"] is True


def test_a_configs_disable_plugins_applies_before_plugins_load(local_plugins, tmp_path, capsys):
    config = tmp_path / "exp.toml"
    config.write_text('disable_plugins = ["broken_cli"]\n[dataset]\nname = "store"\n'
                      f'options = {{ path = "{tmp_path}" }}\n')
    main(["config", "show", str(config)])
    assert "boom" not in capsys.readouterr().err
    reset_host()
    assert main(["datasets"]) == 0  # without the config the plugin loads and fails
    assert "boom" in capsys.readouterr().err


def test_a_malformed_disable_plugins_is_a_config_error(local_plugins, tmp_path, capsys):
    config = tmp_path / "exp.toml"
    config.write_text('disable_plugins = "broken_cli"\n')
    assert main(["config", "show", str(config)]) == 1
    assert "disable_plugins must be a list" in capsys.readouterr().err
