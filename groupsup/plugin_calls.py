"""How the plugin host calls plugins: each plugin isolated, each registration attributed.

pluggy calls every hook through its own loop (``tryfirst``/``trylast``, wrappers, tracing).
The host registers with pluggy not a plugin itself but a :class:`Guarded` proxy of it, whose
hook implementations hand the plugin its own ``register`` callback (so every registration names
the plugin that made it) and turn an exception into a report naming the plugin, so that one
failing implementation does not lose the others' registrations. A :class:`Registrar` is the
``register`` argument of one hook call: it collects the registrations and commits them to the
registry in plugin load order.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable, Generator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import pluggy

from groupsup import hookspecs
from groupsup.errors import RegistryError
from groupsup.registry import Entry, Registry

if TYPE_CHECKING:
    from groupsup.plugins import PluginHost


@dataclass
class PluginInfo:
    """One loaded, failed or disabled plugin."""

    name: str
    distribution: str
    version: str
    source: str  # "builtin", "entry point" or "local"
    error: str | None = None
    location: str = ""  # a local plugin's .py file or dotted module, as GROUPSUP_PLUGINS takes it
    registered: dict[str, list[str]] = field(default_factory=dict)
    disabled: bool = False  # named in GROUPSUP_DISABLE_PLUGINS / disable_plugins: not imported


class Registrar:
    """The ``register`` argument the host passes into one ``register_*`` hook call.

    Plugins never see it: each plugin's implementation receives :meth:`bind`'s callback, which
    records the plugin with every registration. pluggy calls the last registered plugin first
    (``tryfirst``/``trylast`` aside), so registrations are held until the call ends and then
    added in plugin load order: which plugin keeps a contested name (built-ins first) does not
    depend on call order.
    """

    def __init__(self, host: PluginHost, hook: str, registry: Registry[Any]):
        self.host, self.hook, self.registry = host, hook, registry
        self.culprit: PluginInfo | None = None  # the first hook wrapper that raised
        self._pending: list[tuple[PluginInfo, Entry[Any]]] = []

    def bind(self, info: PluginInfo) -> hookspecs.Register:
        def register(name: str, obj: Any, *, description: str = "") -> None:
            self._pending.append((info, Entry(name, obj, info.name, info.distribution,
                                              info.version, description)))

        return register

    def failed(self, info: PluginInfo, err: BaseException) -> None:
        failure = (f"plugin {info.name!r} ({info.distribution}) failed in {self.hook}: "
                   f"{type(err).__name__}: {err}")
        self.registry.failures.append(failure)
        self.host.report(failure)

    def commit(self) -> None:
        """Add the held registrations to the registry, in plugin load order."""
        order = {name: i for i, name in enumerate(self.host.plugins)}
        for info, entry in sorted(self._pending, key=lambda p: order.get(p[0].name, len(order))):
            try:
                self.registry.add(entry)
            except RegistryError as err:
                self.failed(info, err)
                continue
            info.registered.setdefault(self.registry.plural, []).append(entry.name)


def guard(function: Callable[..., Any], info: PluginInfo, wrapper: bool) -> Callable[..., Any]:
    """*function* (a hook implementation of *info*'s plugin) as pluggy should call it.

    The plugin gets its own ``register`` callback in place of the host's :class:`Registrar`;
    a plain implementation that raises is reported and returns ``None``, so pluggy's loop goes
    on to the next plugin. A hook wrapper (a generator) cannot be isolated, as it encloses the
    other implementations; the registrar remembers the first one that raised so that the host
    names it. ``functools.wraps`` keeps pluggy's marker (tryfirst, trylast, wrapper, ...) and,
    through ``__wrapped__``, the argument names pluggy passes by.
    """
    names = list(inspect.signature(function).parameters)

    def arguments(args: tuple[Any, ...]) -> tuple[Registrar | None, tuple[Any, ...]]:
        registrar = next((a for a in args if isinstance(a, Registrar)), None)
        if registrar is None:  # called with a plain callback (a test, a plugin): no isolation
            return None, args
        return registrar, tuple(registrar.bind(info) if n == "register" else a
                                for n, a in zip(names, args))

    if wrapper:
        @functools.wraps(function)
        def guarded_wrapper(*args: Any) -> Generator[Any, Any, Any]:
            registrar, args = arguments(args)
            try:
                return (yield from function(*args))
            except Exception:
                if registrar is not None and registrar.culprit is None:
                    registrar.culprit = info
                raise

        return guarded_wrapper

    @functools.wraps(function)
    def guarded(*args: Any) -> Any:
        registrar, args = arguments(args)
        if registrar is None:
            return function(*args)
        try:
            return function(*args)
        except Exception as err:  # one plugin's failing hook must not lose the others'
            registrar.failed(info, err)
            return None

    return guarded


class Guarded:
    """What pluggy registers for a plugin: its hook implementations, each :func:`guard`-ed."""

    def __init__(self, plugin: object, info: PluginInfo, pm: pluggy.PluginManager):
        self.__name__ = info.name  # pluggy's tracing and repr name plugins by __name__
        for attr in dir(plugin):
            opts = pm.parse_hookimpl_opts(plugin, attr)
            if opts is not None:
                wrapper = bool(opts.get("wrapper") or opts.get("hookwrapper"))
                setattr(self, attr, guard(getattr(plugin, attr), info, wrapper))
