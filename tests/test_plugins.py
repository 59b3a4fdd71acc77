import re
import sys
import textwrap
from pathlib import Path

import pytest

import groupsup as gs
from groupsup import hookspecs
from groupsup.plugins import REGISTRY_HOOKS, PluginHost

ROOT = Path(__file__).resolve().parents[1]


def write_plugin(tmp_path: Path, name: str, body: str) -> Path:
    path = tmp_path / f"{name}.py"
    path.write_text(textwrap.dedent(body))
    return path


def test_builtins_register_through_the_hooks():
    host = PluginHost(entry_points=False, local="")
    assert "plugins" in host.commands and "datasets" in host.commands
    entry = host.commands.entry("plugins")
    assert entry.distribution == "groupsup" and entry.plugin == "groupsup.cli.info"


def test_local_plugin_registers_and_is_attributed(tmp_path):
    path = write_plugin(tmp_path, "local_one", """
        import groupsup as gs

        @gs.hookimpl
        def register_evaluations(register):
            register("answer", lambda: 42, description="the answer")
    """)
    host = PluginHost(entry_points=False, local=str(path))
    entry = host.evaluations.entry("answer")
    assert entry.obj() == 42 and entry.plugin == "local_one" and entry.description == "the answer"
    assert host.plugins["local_one"].registered == {"evaluations": ["answer"]}


def test_broken_plugin_is_reported_and_others_still_load(tmp_path):
    broken = write_plugin(tmp_path, "broken", "raise RuntimeError('boom at import')\n")
    good = write_plugin(tmp_path, "good", """
        import groupsup as gs

        @gs.hookimpl
        def register_evaluations(register):
            register("good-metric", len)
    """)
    host = PluginHost(entry_points=False, local=f"{broken},{good}")
    assert "good-metric" in host.evaluations
    assert any("broken" in p and "boom at import" in p for p in host.problems)
    assert host.plugins["broken"].error.startswith("RuntimeError")


def test_strict_mode_turns_problems_into_errors(tmp_path):
    broken = write_plugin(tmp_path, "broken2", "import no_such_module_xyz\n")
    with pytest.raises(gs.PluginError, match="broken2"):
        PluginHost(entry_points=False, local=str(broken), strict=True)


def test_misspelled_hook_is_caught_by_check_pending(tmp_path):
    path = write_plugin(tmp_path, "typo", """
        import groupsup as gs

        @gs.hookimpl
        def register_backbone(register):  # missing the final s
            pass
    """)
    host = PluginHost(entry_points=False, local=str(path))
    assert any("typo" in p and "unknown hook" in p for p in host.problems)


def test_name_collisions_are_reported_not_dropped(tmp_path):
    body = """
        import groupsup as gs

        @gs.hookimpl
        def register_evaluations(register):
            register("dup", {value!r})
    """
    a = write_plugin(tmp_path, "first", body.format(value="a"))
    b = write_plugin(tmp_path, "second", body.format(value="b"))
    host = PluginHost(entry_points=False, local=f"{a},{b}")
    assert host.evaluations.get("dup") == "a"
    assert host.evaluations.get("second:dup") == "b"
    assert any("'dup'" in p and "first" in p and "second" in p for p in host.problems)


def test_lookup_error_suggests_nearest_name(tmp_path):
    host = PluginHost(entry_points=False, local="")
    with pytest.raises(gs.RegistryError, match="did you mean 'plugins'"):
        host.commands.get("plugin")


def test_failing_hook_is_isolated(tmp_path):
    path = write_plugin(tmp_path, "hookfail", """
        import groupsup as gs

        @gs.hookimpl
        def register_commands(register):
            raise ValueError("bad hook")
    """)
    host = PluginHost(entry_points=False, local=str(path))
    assert "plugins" in host.commands
    assert any("hookfail" in p and "bad hook" in p for p in host.problems)


def _signature(name: str) -> str:
    ann = dict(getattr(hookspecs, name).__annotations__)
    ret = ann.pop("return")
    return f"{name}(" + ", ".join(f"{k}: {v}" for k, v in ann.items()) + f") -> {ret}"


def test_every_hook_is_documented_with_its_exact_signature():
    doc = (ROOT / "docs" / "plugins.md").read_text()
    documented = dict(re.findall(r"^(register_\w+)(\(.*\) -> .*)$", doc, flags=re.M))
    hooks = [n for n in dir(hookspecs) if n.startswith("register_")]
    assert set(hooks) == set(REGISTRY_HOOKS)
    for name in hooks:
        assert name in documented, f"hook {name} is not documented in docs/plugins.md"
        assert name + documented[name] == _signature(name), f"docs signature of {name} differs"


def test_hookimpl_is_reexported():
    assert gs.hookimpl is hookspecs.hookimpl
    assert sys.modules["groupsup"].hookimpl.project_name == "groupsup"


def test_a_plugins_folder_loads_every_module_in_it(tmp_path):
    folder = tmp_path / "my_plugins"
    folder.mkdir()
    for name in ("alpha", "beta"):
        write_plugin(folder, name, f"""
            import groupsup as gs

            @gs.hookimpl
            def register_evaluations(register):
                register("{name}-metric", len)
        """)
    host = PluginHost(entry_points=False, local=str(folder))
    assert {"alpha-metric", "beta-metric"} <= set(host.evaluations.names())
    assert host.evaluations.entry("beta-metric").plugin == "beta"


def test_hooks_receive_the_registries_they_fill(tmp_path):
    """A hook may take ``registries``: the host itself. A component that builds another
    registered one keeps it and looks that up when built (never in the global host); reading
    another registry while registering works, reading the one being filled is an error."""
    path = write_plugin(tmp_path, "composite", """
        import groupsup as gs

        class Wrapped:
            registries = None

            def inner(self):
                return self.registries.evaluations.get("inner")()

        @gs.hookimpl
        def register_evaluations(register, registries):
            register("inner", lambda: 7)
            register("wrapped", type("Bound", (Wrapped,), {"registries": registries}))
            register("commands-seen", len(registries.commands))

        @gs.hookimpl
        def register_recipes(register, registries):
            registries.recipes.names()
    """)
    host = PluginHost(entry_points=False, local=str(path))
    assert host.evaluations.get("wrapped").registries is host
    assert host.evaluations.get("wrapped")().inner() == 7
    assert host.evaluations.get("commands-seen") == len(host.commands) > 0
    host.recipes.names()
    failure = next(p for p in host.problems if "composite" in p and "register_recipes" in p)
    assert "read the registry of register_recipes while registering into it" in failure
