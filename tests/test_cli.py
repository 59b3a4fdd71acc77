import json
import os
import subprocess
import sys
import textwrap

import pytest

from groupsup.cli import main

pytestmark = pytest.mark.usefixtures("fresh_host")


def run_cli(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "groupsup", *args], capture_output=True,
                          text=True, env={**os.environ, **(env or {})}, timeout=120)


def test_help_lists_subcommands(capsys):
    assert main(["--help"]) == 0
    out = capsys.readouterr().out
    assert "plugins" in out and "datasets" in out


def test_plugins_lists_builtins_as_json(capsys):
    assert main(["plugins", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    names = {p["plugin"] for p in data["plugins"]}
    assert "groupsup.cli.info" in names


def test_usage_error_exits_2_with_one_line(capsys):
    assert main(["no-such-command"]) == 2
    err = capsys.readouterr().err
    assert "invalid choice" in err


def test_local_plugin_shows_up_and_broken_plugin_does_not_break_help(tmp_path):
    good = tmp_path / "hello_plugin.py"
    good.write_text(textwrap.dedent("""
        import groupsup as gs

        @gs.hookimpl
        def register_commands(register):
            register("hello", gs.Command("say hello", lambda p: None,
                                         lambda a: print("hello from plugin")))
    """))
    bad = tmp_path / "bad_plugin.py"
    bad.write_text("raise ImportError('missing dependency xyz')\n")
    env = {"GROUPSUP_PLUGINS": f"{good},{bad}"}
    result = run_cli("--help", env=env)
    assert result.returncode == 0
    assert "hello" in result.stdout
    assert "bad_plugin" in result.stderr and "missing dependency xyz" in result.stderr
    listing = run_cli("plugins", env=env)
    assert "hello_plugin" in listing.stdout and "commands: hello" in listing.stdout
    assert run_cli("hello", env=env).stdout.strip() == "hello from plugin"


def test_failures_print_one_line_and_exit_1_without_traceback(tmp_path):
    plugin = tmp_path / "fail_plugin.py"
    plugin.write_text(textwrap.dedent("""
        import groupsup as gs

        def run(args):
            raise gs.DataError("data/x.png: image file is missing")

        @gs.hookimpl
        def register_commands(register):
            register("fail", gs.Command("fail", lambda p: None, run))
    """))
    env = {"GROUPSUP_PLUGINS": str(plugin)}
    result = run_cli("fail", env=env)
    assert result.returncode == 1
    assert result.stderr.strip() == "groupsup: error: data/x.png: image file is missing"
    debug = run_cli("--debug", "fail", env=env)
    assert "Traceback" in debug.stderr


def test_version_lists_groupsup_and_every_plugin_distribution_with_its_version(
        tmp_path, monkeypatch, capsys):
    from importlib import metadata

    from groupsup.version import __version__

    local = tmp_path / "local_plugin.py"
    local.write_text("")
    monkeypatch.setenv("GROUPSUP_PLUGINS", str(local))
    monkeypatch.setenv("GROUPSUP_DISABLE_PLUGINS", "rafd")
    assert main(["--version"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == f"groupsup {__version__}"
    installed = {ep.name: ep.dist for ep in metadata.entry_points(group="groupsup")}
    assert {"fonts", "gzsnet", "rafd"} <= set(installed)
    fonts = installed["fonts"]
    assert f"  {fonts.name} {fonts.version} (plugins: fonts)" in lines
    rafd = installed["rafd"]
    assert f"  rafd ({rafd.name} {rafd.version}): disabled" in lines
    assert f"  local_plugin (local plugin, {local.resolve()})" in lines
    # one line per distribution, nothing of groupsup's own built-in plugins
    assert len(lines) == 1 + len(installed) + 1
    assert not any("groupsup.cli" in line for line in lines)
