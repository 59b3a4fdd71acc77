"""Built-in commands that describe the installation: ``plugins`` and ``datasets``."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from groupsup.cli import Command
from groupsup.errors import ConfigError
from groupsup.hookspecs import hookimpl
from groupsup.plugins import get_host


def _configure_plugins(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", action="store_true", help="machine-readable output")


def _run_plugins(args: argparse.Namespace) -> int:
    host = get_host()
    host.load_all()
    rows = [
        {"plugin": p.name, "distribution": p.distribution, "version": p.version,
         "source": p.source, "registered": p.registered, "error": p.error,
         "disabled": p.disabled}
        for p in host.plugins.values()
    ]
    if args.json:
        print(json.dumps({"plugins": rows, "problems": host.problems}, indent=2))
        return 0
    for row in rows:
        print(f"{row['plugin']}  [{row['distribution']} {row['version']}, {row['source']}]")
        if row["disabled"]:
            print("    disabled (GROUPSUP_DISABLE_PLUGINS or a config's disable_plugins); "
                  "not imported")
        if row["error"]:
            print(f"    FAILED: {row['error']}")
        for kind, names in sorted(row["registered"].items()):
            print(f"    {kind}: {', '.join(names)}")
    if host.problems:
        print("problems:")
        for problem in host.problems:
            print(f"  - {problem}")
    return 0


def _configure_datasets(parser: argparse.ArgumentParser) -> None:
    parser.usage = "groupsup datasets [-h] [--json] [NAME | fetch NAME [--out DIR]]"
    parser.add_argument("name", nargs="?", metavar="NAME", help="one dataset: also list its "
                        "options (type, default, meaning); `fetch NAME` downloads the public "
                        "files the dataset declares")
    parser.add_argument("fetch_name", nargs="?", help=argparse.SUPPRESS)
    parser.add_argument("--json", action="store_true", help="machine-readable output")
    parser.add_argument("--out", type=Path, metavar="DIR", help="with fetch: the folder to "
                        "download into (default: the dataset's default root, e.g. "
                        "data/dsprites)")


def _run_fetch(name: str, out: Path | None) -> int:
    """``groupsup datasets fetch NAME``: download and verify what the dataset declares, or say
    where to request it."""
    from groupsup.data.download import default_folder, fetch

    spec = get_host().datasets.get(name)
    if not spec.downloads:
        if spec.access:
            print(f"{name}: groupsup cannot download this dataset.\n{spec.access.rstrip()}\n"
                  f"The loader expects: {spec.expects}", file=sys.stderr)
        else:
            print(f"{name}: declares no file to download; the loader expects: "
                  f"{spec.expects}", file=sys.stderr)
        return 1
    folder = out if out is not None else default_folder(spec)
    if folder is None:
        raise ConfigError(f"{name} has no default `root` option to download into; give "
                          "--out DIR")
    for download in spec.downloads:
        done = fetch(download, folder)
        checked = ", ".join(f"{k} {v}" for k, v in done.digests.items())
        if done.status == "present":
            print(f"{done.path}: already present and verified ({checked}); not downloaded "
                  "again")
        else:
            resumed = f", resumed from byte {done.resumed_from}" if done.resumed_from else ""
            print(f"{done.path}: downloaded from {download.url}{resumed}; verified ({checked})")
    if out is not None and out != default_folder(spec):
        print(f"use it with dataset.options.root = {json.dumps(str(out))}")
    return 0


def _print_options(options: list[dict[str, Any]]) -> None:
    """One option a line, ``name (type) = default``, its meaning indented on the next line."""
    print("    options:" if options else "    options: (none)")
    for o in options:
        if o["required"]:
            default = ", required"
        else:
            default = ") = " + ("unset" if o["default"] is None else json.dumps(o["default"]))
        print(f"      {o['name']} ({o['type']}{default}{')' if o['required'] else ''}")
        if o["description"]:
            print(f"          {o['description']}")


def _run_datasets(args: argparse.Namespace) -> int:
    if args.name == "fetch":
        if args.fetch_name is None:
            raise ConfigError("datasets fetch: name the dataset to download, e.g. "
                              "`groupsup datasets fetch dsprites`")
        return _run_fetch(args.fetch_name, args.out)
    if args.fetch_name is not None or args.out is not None:
        raise ConfigError("datasets: a second name and --out go with fetch only: "
                          "`groupsup datasets fetch NAME [--out DIR]`")
    registry = get_host().datasets
    entries = [registry.entry(args.name)] if args.name else list(registry)
    rows = []
    for entry in entries:
        spec = entry.obj
        rows.append({
            "name": entry.name, "plugin": entry.plugin, "distribution": entry.distribution,
            "attributes": None if spec.schema is None else {
                a.name: {"values": None if a.values is None else len(a.values),
                         "latent": a.latent} for a in spec.schema.attributes},
            "expects": spec.expects, "description": entry.description or spec.description,
            "fetch": "download" if spec.downloads else "on request" if spec.access else None,
        })
        if args.name:
            rows[-1]["options"] = spec.options()
    if args.json:
        print(json.dumps(rows, indent=2))
        return 0
    if not rows:
        print("no datasets registered (install a dataset plugin, e.g. plugins/groupsup-fonts)")
    for row in rows:
        print(f"{row['name']}  [{row['distribution']}]  {row['description']}")
        attrs = "defined by the data" if row["attributes"] is None else ", ".join(
            f"{n} ({'?' if a['values'] is None else a['values']} values, {a['latent']} dims)"
            for n, a in row["attributes"].items())
        print(f"    attributes: {attrs}")
        print(f"    expects: {row['expects']}")
        if row["fetch"] == "download":
            print(f"    download: groupsup datasets fetch {row['name']}")
        elif row["fetch"] == "on request":
            print(f"    data on request: groupsup datasets fetch {row['name']} says where")
        if "options" in row:
            _print_options(row["options"])
    return 0


COMMANDS = {
    "plugins": Command("list plugins and what each registers", _configure_plugins,
                       _run_plugins),
    "datasets": Command("list registered datasets, their attributes and data layout; with a "
                        "NAME, its options; `fetch NAME` downloads a public dataset",
                        _configure_datasets, _run_datasets),
}


@hookimpl
def register_commands(register):
    for name, command in COMMANDS.items():
        register(name, command)
