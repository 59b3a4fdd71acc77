"""The ``groupsup`` command line. Thin: it parses, builds configs and calls the library.

Subcommands are registered through the ``register_commands`` hook (core ones too), so a plugin
adds a subcommand the same way groupsup does. Every plugin problem (a plugin that failed to
load or to register, a name two plugins claim) prints once as a warning on stderr before any
command runs. Errors print as one line on stderr: exit status 2
for usage errors, 1 for failures; ``--debug`` shows the traceback.
"""

from __future__ import annotations

import argparse
import sys
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from groupsup.errors import ConfigError, GroupsupError, GroupsWarning

if TYPE_CHECKING:
    from groupsup.plugins import PluginHost

CONFIG_SUFFIXES = (".toml", ".yaml", ".yml", ".json")


@dataclass(frozen=True)
class Command:
    """A CLI subcommand: ``configure`` adds its arguments, ``run`` does the work.

    ``run`` returns the exit status (``None`` means 0) and raises
    :class:`~groupsup.errors.GroupsupError` for a failure the user can fix.
    """

    help: str
    configure: Callable[[argparse.ArgumentParser], None]
    run: Callable[[argparse.Namespace], int | None]
    description: str = ""


def add_key_values(p: argparse.ArgumentParser, *flags: str, help: str | None = None,
                   dest: str | None = None) -> None:
    """A repeatable ``KEY=VALUE`` flag whose values gather in a list (empty by default)."""
    named = {} if dest is None else {"dest": dest}
    p.add_argument(*flags, action="append", default=[], metavar="KEY=VALUE", help=help, **named)


def add_run_dataset(p: argparse.ArgumentParser, use: str, example: str) -> None:
    """``--dataset NAME`` and ``--set KEY=VALUE`` of a command that opens a trained run:
    another registered dataset to *use* instead of the stored one, and overrides of the stored
    config (*example*: one); :func:`run_overrides` combines them."""
    p.add_argument("--dataset", default=None, metavar="NAME",
                   help=f"a registered dataset to {use} instead of the one the run's config "
                   "names (its options then come from --set dataset.options.KEY=VALUE)")
    add_key_values(p, "--set", dest="overrides", help="override a key of the run's stored "
                   f"config before its dataset is loaded, e.g. {example}")


def run_overrides(args: argparse.Namespace) -> list[str]:
    """The overrides of a run's stored config that :func:`add_run_dataset`'s flags ask for."""
    if args.dataset is None:
        return list(args.overrides)
    # the stored options belong to the stored dataset
    return [f"dataset.name={args.dataset}", "dataset.options={}", *args.overrides]


def _error(message: str) -> None:
    print(f"groupsup: error: {message}", file=sys.stderr)


def config_disables(argv: Sequence[str]) -> list[str]:
    """The ``disable_plugins`` of every config the command line names, before plugins load.

    Plugins define the commands and their arguments, so this cannot wait for the parser: it
    looks at each argument that is a config file (``.toml``, ``.yaml``, ``.yml``, ``.json``) or
    a run directory (its ``config.json``). A file that does not parse is left to the command.
    """
    from groupsup.train.config import read_config_file

    names: list[str] = []
    for arg in argv:
        path = Path(arg)
        if path.is_dir() and (path / "config.json").is_file():
            path = path / "config.json"
        if path.suffix.lower() not in CONFIG_SUFFIXES or not path.is_file():
            continue
        try:
            listed = read_config_file(path).get("disable_plugins", [])
        except GroupsupError:
            continue
        if not isinstance(listed, list) or not all(isinstance(n, str) for n in listed):
            raise ConfigError(f"{path}: disable_plugins must be a list of plugin or "
                              f"distribution names, got {listed!r}")
        names.extend(listed)
    return names


def build_parser(disable: Sequence[str] = ()) -> argparse.ArgumentParser:
    """The parser of every registered command; *disable* names plugins not to load."""
    from groupsup.plugins import configure_host

    parser = argparse.ArgumentParser(
        prog="groupsup",
        description="Group-supervised learning: train swap autoencoders on groups of examples "
        "that share attribute values, then synthesise unseen combinations.",
    )
    parser.add_argument("--debug", action="store_true", help="show tracebacks on errors")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    host = configure_host(disable=disable)
    # Every registry is filled before any command runs, so that a plugin that failed in, say,
    # register_backbones is reported by `train` too, not only by `groupsup plugins`.
    host.load_all()
    parser.add_argument("--version", action=_PrintVersion, version=version_text(host),
                        help="show groupsup's version and each plugin's, then exit")
    for entry in host.commands:
        command: Command = entry.obj
        p = sub.add_parser(entry.name, help=command.help,
                           description=command.description or command.help)
        command.configure(p)
        p.set_defaults(run_command=command.run)
    for problem in host.problems:
        print(f"groupsup: warning: {problem}", file=sys.stderr)
    return parser


class _PrintVersion(argparse.Action):
    """argparse's ``version`` action without its rewrapping: one line per distribution."""

    def __init__(self, option_strings: list[str], version: str, dest: str = argparse.SUPPRESS,
                 default: str = argparse.SUPPRESS, help: str | None = None) -> None:
        super().__init__(option_strings, dest=dest, default=default, nargs=0, help=help)
        self.version = version

    def __call__(self, parser, namespace, values, option_string=None) -> None:
        print(self.version)
        parser.exit()


def version_text(host: PluginHost) -> str:
    """What ``groupsup --version`` prints: groupsup's version, then each plugin distribution
    *host* loaded with its version and plugin names, and each local, failed or disabled plugin
    (built-in plugins are groupsup's own)."""
    from groupsup.plugins import BUILTIN_DISTRIBUTION
    from groupsup.version import __version__

    by_distribution: dict[tuple[str, str], list[str]] = {}
    others: list[str] = []
    for info in host.plugins.values():
        if info.distribution == BUILTIN_DISTRIBUTION:
            continue
        if info.disabled or info.error:
            state = "disabled" if info.disabled else "failed to load"
            others.append(f"{info.name} ({info.distribution} {info.version}): {state}")
        elif info.source == "local":
            others.append(f"{info.name} (local plugin, {info.location})")
        else:
            by_distribution.setdefault((info.distribution, info.version), []).append(info.name)
    lines = [f"groupsup {__version__}"]
    lines += [f"  {dist} {version} (plugins: {', '.join(names)})"
              for (dist, version), names in sorted(by_distribution.items())]
    lines += [f"  {line}" for line in others]
    if len(lines) == 1:
        lines.append("  no plugins installed")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``groupsup`` console script and ``python -m groupsup``."""
    argv = list(sys.argv[1:] if argv is None else argv)
    debug = "--debug" in argv
    with warnings.catch_warnings():
        python_show = warnings.showwarning

        def show(message, category, *where) -> None:  # ours as one line, others as Python's
            if issubclass(category, GroupsWarning):
                print(f"groupsup: warning: {message}", file=sys.stderr)
            else:
                python_show(message, category, *where)

        warnings.showwarning = show
        return _main(argv, debug)


def _main(argv: list[str], debug: bool) -> int:
    try:
        parser = build_parser(disable=config_disables(argv))
        args = parser.parse_args(argv)
        if getattr(args, "run_command", None) is None:
            parser.print_help()
            return 2
        return int(args.run_command(args) or 0)
    except SystemExit as exit_:  # argparse: 0 for --help, 2 for usage errors
        return exit_.code if isinstance(exit_.code, int) else 1
    except KeyboardInterrupt:
        _error("interrupted")
        return 130
    except GroupsupError as err:
        if debug:
            raise
        _error(str(err))
        return 1
    except Exception as err:
        if debug:
            raise
        _error(f"{type(err).__name__}: {err} (run with --debug for the traceback)")
        return 1
