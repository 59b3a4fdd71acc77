"""The plugin host: loads built-in, installed and local plugins and fills the registries.

Sources, in order:
1. built-in modules of groupsup itself (they register through the same hooks);
2. entry points of group ``"groupsup"`` from installed distributions;
3. local modules named in ``GROUPSUP_PLUGINS`` (comma-separated dotted paths, ``.py`` files or
   folders of ``.py`` files).

Each plugin loads in isolation: one that raises on import, or implements a hook that does not
exist (a misspelling), is reported by name with its error and the rest still load.
``GROUPSUP_STRICT_PLUGINS=1`` (or ``strict=True``) turns every such report into an error.
``GROUPSUP_DISABLE_PLUGINS=name,...`` (or ``disable=[...]``, or a config's ``disable_plugins``
through :func:`configure_host`) skips installed or local plugins, by plugin or distribution
name, without importing them; built-in plugins cannot be disabled.

Hooks are called through pluggy's own call loop (``pm.hook.register_backbones(register=...,
registries=host)``),
so ``tryfirst``/``trylast``, hook wrappers, tracing and call monitoring work. Isolation and
attribution come from how each plugin is registered (:mod:`groupsup.plugin_calls`).
"""

from __future__ import annotations

import importlib
import importlib.util
import os
import sys
import threading
from collections.abc import Iterable
from importlib import metadata
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any, Generic, TypeVar

import pluggy

from groupsup import hookspecs
from groupsup.errors import PluginError, did_you_mean
from groupsup.plugin_calls import Guarded, PluginInfo, Registrar
from groupsup.registry import Evaluation, RegisteredRecipe, Registry
from groupsup.version import __version__

if TYPE_CHECKING:
    from groupsup.backbones.base import Backbone
    from groupsup.cli import Command
    from groupsup.data import DatasetSpec
    from groupsup.graph.strategies import Strategy
    from groupsup.losses.base import LossTerm
    from groupsup.train.callbacks import Callback

ENTRY_POINT_GROUP = hookspecs.PROJECT
PLUGINS_ENV = "GROUPSUP_PLUGINS"
STRICT_ENV = "GROUPSUP_STRICT_PLUGINS"
DISABLE_ENV = "GROUPSUP_DISABLE_PLUGINS"

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
    "groupsup.runs.builtin",
    "groupsup.runs.during",
    "groupsup.cli.explore",
    "groupsup.cli.export",
    "groupsup.train.ema",
    "groupsup.train.tracking",
)
BUILTIN_DISTRIBUTION = "groupsup"

# hook name -> the kind of thing its registry holds
REGISTRY_HOOKS: dict[str, str] = {
    "register_datasets": "dataset",
    "register_backbones": "backbone",
    "register_losses": "loss",
    "register_recipes": "recipe",
    "register_strategies": "strategy",
    "register_callbacks": "callback",
    "register_evaluations": "evaluation",
    "register_commands": "command",
}

PLURALS = {"loss": "losses", "strategy": "strategies"}
T = TypeVar("T")


def disabled_names(extra: Iterable[str] = ()) -> frozenset[str]:
    """The plugin or distribution names ``GROUPSUP_DISABLE_PLUGINS`` lists, plus *extra*."""
    listed = os.environ.get(DISABLE_ENV, "").split(",")
    return frozenset(n.strip() for n in (*listed, *extra) if n.strip())


class HookRegistry(Generic[T]):
    """A :class:`PluginHost` attribute: the registry that its ``register_*`` hook fills."""

    def __init__(self, hook: str) -> None:
        self.hook = hook

    def __get__(self, host: PluginHost | None, owner: type) -> Registry[T]:
        if host is None:  # looked up on the class (documentation tools)
            return self  # type: ignore[return-value]
        return host.registry(self.hook)


class PluginHost:
    """A pluggy manager plus one :class:`~groupsup.registry.Registry` per ``register_*`` hook.

    *disable* adds plugin or distribution names to those of ``GROUPSUP_DISABLE_PLUGINS``.
    """

    def __init__(self, *, strict: bool | None = None, entry_points: bool = True,
                 local: str | None = None, disable: Iterable[str] = ()):
        self.strict = os.environ.get(STRICT_ENV, "") not in ("", "0") if strict is None else strict
        self.disabled = disabled_names(disable)
        for name in sorted(self.disabled):
            if name in BUILTIN_MODULES or name == BUILTIN_DISTRIBUTION:
                raise PluginError(f"{DISABLE_ENV} or disable_plugins names {name!r}, which is "
                                  f"built into groupsup; built-in plugins cannot be disabled")
        self.pm = pluggy.PluginManager(hookspecs.PROJECT)
        self.pm.add_hookspecs(hookspecs)
        self.plugins: dict[str, PluginInfo] = {}
        self.problems: list[str] = []
        # plugins that failed as a whole (import, unknown hook): any registry may lack their names
        self.load_failures: list[str] = []
        self._registries: dict[str, Registry[Any]] = {}
        # reentrant: a hook implementation may read another registry while registering
        self._lock = threading.RLock()
        self._collecting: set[str] = set()
        for module_name in BUILTIN_MODULES:
            module = importlib.import_module(module_name)
            self._register(module, PluginInfo(module_name, BUILTIN_DISTRIBUTION, __version__,
                                              "builtin"))
        if entry_points:
            self._load_entry_points()
        self._load_local(os.environ.get(PLUGINS_ENV, "") if local is None else local)
        self._check_disabled()

    # ------------------------------------------------------------------ loading
    def report(self, message: str) -> None:
        """Record a plugin problem in :attr:`problems` (raise it as a
        :class:`~groupsup.errors.PluginError` when the host is strict)."""
        if self.strict:
            raise PluginError(message)
        self.problems.append(message)

    def _skip(self, info: PluginInfo) -> bool:
        """Record *info* as disabled (it is not imported) when the disable list names it."""
        if info.name not in self.disabled and info.distribution not in self.disabled:
            return False
        info.disabled = True
        self.plugins[info.name] = info
        return True

    def _check_disabled(self) -> None:
        known = {n for p in self.plugins.values() for n in (p.name, p.distribution)}
        for name in sorted(self.disabled - known):
            self.report(f"{DISABLE_ENV} or disable_plugins names {name!r}, which is no "
                         f"installed or local plugin{did_you_mean(name, known)}")

    def _register(self, module: object, info: PluginInfo) -> None:
        if info.name in self.plugins:
            self.report(f"plugin name {info.name!r} from {info.distribution} is already taken by "
                         f"{self.plugins[info.name].distribution}; skipped")
            return
        self.pm.register(Guarded(module, info, self.pm), name=info.name)
        try:
            self.pm.check_pending()
        except pluggy.PluginValidationError as err:
            self.pm.unregister(name=info.name)
            info.error = f"implements an unknown hook: {err}"
            self.plugins[info.name] = info
            self.load_failures.append(f"plugin {info.name!r} ({info.distribution}) {info.error}")
            self.report(f"plugin {info.name!r} ({info.distribution}) {info.error}")
            return
        self.plugins[info.name] = info

    def _load_entry_points(self) -> None:
        for ep in sorted(metadata.entry_points(group=ENTRY_POINT_GROUP), key=lambda e: e.name):
            dist = getattr(ep, "dist", None)
            info = PluginInfo(ep.name, dist.name if dist else "?", dist.version if dist else "?",
                              "entry point")
            if self._skip(info):
                continue
            try:
                module = ep.load()
            except Exception as err:  # a broken plugin must not take the host down
                info.error = f"{type(err).__name__}: {err}"
                self.plugins[info.name] = info
                self.load_failures.append(f"plugin {ep.name!r} failed to load ({info.error})")
                self.report(f"plugin {ep.name!r} ({info.distribution} {info.version}) failed to "
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
                if self._skip(info):
                    continue
                try:
                    module = (importlib.import_module(item) if target is None
                              else _import_file(target))
                except Exception as err:
                    info.error = f"{type(err).__name__}: {err}"
                    self.plugins[name] = info
                    self.load_failures.append(f"local plugin {name!r} failed to load "
                                              f"({info.error})")
                    self.report(f"local plugin {item!r} failed to load: {info.error}")
                    continue
                self._register(module, info)

    # ------------------------------------------------------------------ registries
    def registry(self, hook: str) -> Registry[Any]:
        """The registry filled by *hook* (e.g. ``"register_backbones"``), built on first use."""
        with self._lock:
            if hook not in self._registries:
                if hook in self._collecting:
                    raise PluginError(f"a plugin read the registry of {hook} while registering "
                                      "into it; look registered components up when building, "
                                      "not while registering")
                self._collecting.add(hook)
                try:
                    self._registries[hook] = self._collect(hook)
                finally:
                    self._collecting.discard(hook)
            return self._registries[hook]

    def _collect(self, hook: str) -> Registry[Any]:
        kind = REGISTRY_HOOKS[hook]
        registry: Registry[Any] = Registry(kind, PLURALS.get(kind))
        registry.failures.extend(self.load_failures)
        registrar = Registrar(self, hook, registry)
        try:
            # the one place that calls into plugins: through pluggy's call loop, so that hook
            # ordering, wrappers, tracing and call monitoring apply
            getattr(self.pm.hook, hook)(register=registrar, registries=self)
        except Exception as err:  # only a hook wrapper can raise here: it encloses the call
            culprit = registrar.culprit
            who = (f"plugin {culprit.name!r} ({culprit.distribution})" if culprit
                   else "a hook wrapper")
            failure = (f"{who} failed in {hook}, so later plugins may not have registered: "
                       f"{type(err).__name__}: {err}")
            registry.failures.append(failure)
            self.report(failure)
        registrar.commit()
        for first, second in registry.collisions:
            self.report(f"{registry.kind} {first.name!r} registered by both {first.plugin!r} and "
                         f"{second.plugin!r}; {first.plugin!r} keeps the name, the other is "
                         f"'{second.plugin}:{second.name}'")
        return registry

    # the registries (groupsup.registry.Registries), each filled by its hook on first use
    datasets: HookRegistry[DatasetSpec] = HookRegistry("register_datasets")
    backbones: HookRegistry[type[Backbone]] = HookRegistry("register_backbones")
    losses: HookRegistry[type[LossTerm]] = HookRegistry("register_losses")
    recipes: HookRegistry[RegisteredRecipe] = HookRegistry("register_recipes")
    strategies: HookRegistry[type[Strategy]] = HookRegistry("register_strategies")
    callbacks: HookRegistry[type[Callback]] = HookRegistry("register_callbacks")
    evaluations: HookRegistry[Evaluation] = HookRegistry("register_evaluations")
    commands: HookRegistry[Command] = HookRegistry("register_commands")

    def load_all(self) -> None:
        """Fill every registry (so that :attr:`problems` and ``registered`` are complete)."""
        for hook in REGISTRY_HOOKS:
            self.registry(hook)


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


def configure_host(*, disable: Iterable[str] = ()) -> PluginHost:
    """The process-wide host, rebuilt if it does not yet disable every name of *disable*.

    The CLI calls it with the ``disable_plugins`` of the config files it is given, before any
    command runs; Python users call it (or set ``GROUPSUP_DISABLE_PLUGINS``) before building
    anything from a config that lists plugins to disable.
    """
    global _host
    with _host_lock:
        if _host is None or not disabled_names(disable) <= _host.disabled:
            _host = PluginHost(disable=disable)
        return _host


def reset_host() -> None:
    """Forget the process-wide host (tests; after changing ``GROUPSUP_PLUGINS``)."""
    global _host
    with _host_lock:
        _host = None
