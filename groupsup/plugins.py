"""The plugin host: loads built-in, installed and local plugins and fills the registries.

Sources, in order:
1. built-in modules of groupsup itself (they register through the same hooks);
2. entry points of group ``"groupsup"`` from installed distributions;
3. local modules named in ``GROUPSUP_PLUGINS`` (comma-separated dotted paths, ``.py`` files or
   folders of ``.py`` files).

Each plugin loads in isolation: one that raises on import, or implements a hook that does not
exist (a misspelling), is reported by name with its error and the rest still load.
``GROUPSUP_STRICT_PLUGINS=1`` (or ``strict=True``) turns every such report into an error.
"""

from __future__ import annotations

import importlib
import importlib.util
import os
import sys
import threading
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from types import ModuleType
from typing import Any

import pluggy

from groupsup import hookspecs
from groupsup.errors import PluginError
from groupsup.registry import Entry, Registry

ENTRY_POINT_GROUP = hookspecs.PROJECT
PLUGINS_ENV = "GROUPSUP_PLUGINS"
STRICT_ENV = "GROUPSUP_STRICT_PLUGINS"

# Core pieces, registered through the same hooks third-party plugins use.
BUILTIN_MODULES: tuple[str, ...] = (
    "groupsup.cli.info",
    "groupsup.cli.train",
    "groupsup.cli.evaluate",
    "groupsup.data.builtin",
    "groupsup.backbones.builtin",
    "groupsup.losses.builtin",
    "groupsup.graph.strategies",
    "groupsup.cli.graph",
    "groupsup.evaluate.plugin",
)

# hook name -> the kind of thing its registry holds
REGISTRY_HOOKS: dict[str, str] = {
    "register_datasets": "dataset",
    "register_backbones": "backbone",
    "register_losses": "loss",
    "register_recipes": "recipe",
    "register_strategies": "strategy",
    "register_metrics": "metric",
    "register_commands": "command",
}

PLURALS = {"loss": "losses", "strategy": "strategies"}


@dataclass
class PluginInfo:
    """One loaded (or failed) plugin."""

    name: str
    distribution: str
    version: str
    source: str  # "builtin", "entry point" or "local"
    error: str | None = None
    location: str = ""  # a local plugin's .py file or dotted module, as GROUPSUP_PLUGINS takes it
    registered: dict[str, list[str]] = field(default_factory=dict)


def _version() -> str:
    from groupsup import __version__

    return __version__


class PluginHost:
    """A pluggy manager plus one :class:`~groupsup.registry.Registry` per ``register_*`` hook."""

    def __init__(self, *, strict: bool | None = None, entry_points: bool = True,
                 local: str | None = None):
        self.strict = os.environ.get(STRICT_ENV, "") not in ("", "0") if strict is None else strict
        self.pm = pluggy.PluginManager(hookspecs.PROJECT)
        self.pm.add_hookspecs(hookspecs)
        self.plugins: dict[str, PluginInfo] = {}
        self.problems: list[str] = []
        # plugins that failed as a whole (import, unknown hook): any registry may lack their names
        self.load_failures: list[str] = []
        self._registries: dict[str, Registry[Any]] = {}
        self._lock = threading.Lock()
        for module_name in BUILTIN_MODULES:
            module = importlib.import_module(module_name)
            self._register(module, PluginInfo(module_name, "groupsup", _version(), "builtin"))
        if entry_points:
            self._load_entry_points()
        self._load_local(os.environ.get(PLUGINS_ENV, "") if local is None else local)

    # ------------------------------------------------------------------ loading
    def _report(self, message: str) -> None:
        if self.strict:
            raise PluginError(message)
        self.problems.append(message)

    def _register(self, module: ModuleType, info: PluginInfo) -> None:
        if info.name in self.plugins:
            self._report(f"plugin name {info.name!r} from {info.distribution} is already taken by "
                         f"{self.plugins[info.name].distribution}; skipped")
            return
        self.pm.register(module, name=info.name)
        try:
            self.pm.check_pending()
        except pluggy.PluginValidationError as err:
            self.pm.unregister(name=info.name)
            info.error = f"implements an unknown hook: {err}"
            self.plugins[info.name] = info
            self.load_failures.append(f"plugin {info.name!r} ({info.distribution}) {info.error}")
            self._report(f"plugin {info.name!r} ({info.distribution}) {info.error}")
            return
        self.plugins[info.name] = info

    def _load_entry_points(self) -> None:
        for ep in sorted(metadata.entry_points(group=ENTRY_POINT_GROUP), key=lambda e: e.name):
            dist = getattr(ep, "dist", None)
            info = PluginInfo(ep.name, dist.name if dist else "?", dist.version if dist else "?",
                              "entry point")
            try:
                module = ep.load()
            except Exception as err:  # a broken plugin must not take the host down
                info.error = f"{type(err).__name__}: {err}"
                self.plugins[info.name] = info
                self.load_failures.append(f"plugin {ep.name!r} failed to load ({info.error})")
                self._report(f"plugin {ep.name!r} ({info.distribution} {info.version}) failed to "
                             f"load: {info.error}")
                continue
            self._register(module, info)

    def _load_local(self, spec: str) -> None:
        for item in filter(None, (s.strip() for s in spec.split(","))):
            path = Path(item)
            if path.is_dir():
                targets: list[Path | None] = sorted(path.glob("*.py"))
            elif path.suffix == ".py":
                targets = [path]
            else:  # a dotted module path
                targets = [None]
            for target in targets:
                name = item if target is None else target.stem
                info = PluginInfo(name, "(local)", "-", "local",
                                  location=item if target is None else str(target.resolve()))
                try:
                    module = (importlib.import_module(item) if target is None
                              else _import_file(target))
                except Exception as err:
                    info.error = f"{type(err).__name__}: {err}"
                    self.plugins[name] = info
                    self.load_failures.append(f"local plugin {name!r} failed to load "
                                              f"({info.error})")
                    self._report(f"local plugin {item!r} failed to load: {info.error}")
                    continue
                self._register(module, info)

    # ------------------------------------------------------------------ registries
    def registry(self, hook: str) -> Registry[Any]:
        """The registry filled by *hook* (e.g. ``"register_backbones"``), built on first use."""
        with self._lock:
            if hook not in self._registries:
                self._registries[hook] = self._collect(hook)
            return self._registries[hook]

    def _collect(self, hook: str) -> Registry[Any]:
        kind = REGISTRY_HOOKS[hook]
        registry: Registry[Any] = Registry(kind, PLURALS.get(kind))
        registry.failures.extend(self.load_failures)
        caller = getattr(self.pm.hook, hook)
        # Call each implementation on its own so that we know who registered what, and so
        # that one plugin's failing hook does not lose the others' registrations.
        for impl in caller.get_hookimpls():  # registration order: built-ins first
            info = self.plugins[impl.plugin_name]

            def register(name: str, obj: Any, *, description: str = "",
                         _info: PluginInfo = info) -> None:
                registry.add(Entry(name, obj, _info.name, _info.distribution, _info.version,
                                   description))
                _info.registered.setdefault(registry.plural, []).append(name)

            try:
                impl.function(register=register)
            except Exception as err:
                failure = (f"plugin {info.name!r} ({info.distribution}) failed in {hook}: "
                           f"{type(err).__name__}: {err}")
                registry.failures.append(failure)
                self._report(failure)
        for first, second in registry.collisions:
            self._report(f"{registry.kind} {first.name!r} registered by both {first.plugin!r} and "
                         f"{second.plugin!r}; {first.plugin!r} keeps the name, the other is "
                         f"'{second.plugin}:{second.name}'")
        return registry

    @property
    def datasets(self) -> Registry[Any]:
        return self.registry("register_datasets")

    @property
    def backbones(self) -> Registry[Any]:
        return self.registry("register_backbones")

    @property
    def losses(self) -> Registry[Any]:
        return self.registry("register_losses")

    @property
    def recipes(self) -> Registry[Any]:
        return self.registry("register_recipes")

    @property
    def strategies(self) -> Registry[Any]:
        return self.registry("register_strategies")

    @property
    def metrics(self) -> Registry[Any]:
        return self.registry("register_metrics")

    @property
    def commands(self) -> Registry[Any]:
        return self.registry("register_commands")

    def load_all(self) -> None:
        """Fill every registry (so that :attr:`problems` and ``registered`` are complete)."""
        for hook in REGISTRY_HOOKS:
            self.registry(hook)

    def distribution_of(self, plugin: str) -> tuple[str, str]:
        info = self.plugins[plugin]
        return info.distribution, info.version


def _import_file(path: Path) -> ModuleType:
    if not path.is_file():
        raise FileNotFoundError(f"no such plugin file: {path}")
    name = f"groupsup_local_{path.stem}"
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot import {path}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


_host: PluginHost | None = None
_host_lock = threading.Lock()


def get_host() -> PluginHost:
    """The process-wide plugin host (created on first use)."""
    global _host
    with _host_lock:
        if _host is None:
            _host = PluginHost()
        return _host


def reset_host() -> None:
    """Forget the process-wide host (tests; after changing ``GROUPSUP_PLUGINS``)."""
    global _host
    with _host_lock:
        _host = None


def lookup(kind_hook: str, name: str) -> Any:
    """Shortcut: ``lookup("register_backbones", "conv-small")`` -> the registered object."""
    return get_host().registry(kind_hook).get(name)

