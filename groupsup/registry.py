"""Typed registries: what plugins registered, looked up by name with helpful errors."""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Generic, Protocol, TypeAlias, TypeVar

from groupsup.errors import RegistryError, did_you_mean

if TYPE_CHECKING:  # annotations only: the registered kinds live in the layers above
    from groupsup.backbones.base import Backbone
    from groupsup.data import DatasetSpec
    from groupsup.graph.strategies import Strategy
    from groupsup.losses.base import LossTerm
    from groupsup.losses.recipe import LossRecipe, LossSpec
    from groupsup.runs.step import CodeMetric, EvaluationStep, SynthesisMeasure
    from groupsup.train.callbacks import Callback

T = TypeVar("T")

# What ``register_recipes`` registers: a list of specs, a LossRecipe, or a mapping
# ``{"terms": [...], "distance": ..., "reduction": ...}`` (see ``registered_parts``).
RegisteredRecipe: TypeAlias = (
    "Sequence[LossSpec | Mapping[str, Any] | str] | LossRecipe | Mapping[str, Any]")
# What ``register_evaluations`` registers: a step of the evaluation, a measure of the
# syntheses, or a metric of latent codes (``groupsup.runs.step``)
Evaluation: TypeAlias = "EvaluationStep | SynthesisMeasure | CodeMetric"


@dataclass(frozen=True)
class Entry(Generic[T]):
    """One registered object and where it came from."""

    name: str
    obj: T
    plugin: str
    distribution: str
    version: str
    description: str = ""


class Registry(Generic[T]):
    """Name -> :class:`Entry` for one kind of thing (``"backbone"``, ``"loss"``, ...).

    The first registration of a name wins; later ones are recorded as collisions (listed by
    ``groupsup plugins``) and stay reachable under ``"<plugin>:<name>"``. ``failures`` holds one
    line per plugin that failed to load or to register into this registry: a name that is not
    found may be one such a plugin would have provided, so the lookup error lists them.
    """

    def __init__(self, kind: str, plural: str | None = None):
        self.kind = kind
        self.plural = plural or f"{kind}s"
        self._entries: dict[str, Entry[T]] = {}
        self.collisions: list[tuple[Entry[T], Entry[T]]] = []
        self.failures: list[str] = []

    def add(self, entry: Entry[T]) -> None:
        if not entry.name or not isinstance(entry.name, str):
            raise RegistryError(f"{self.kind} registered by plugin {entry.plugin!r} has no name")
        current = self._entries.get(entry.name)
        if current is not None:
            self.collisions.append((current, entry))
            self._entries[f"{entry.plugin}:{entry.name}"] = entry
            return
        self._entries[entry.name] = entry

    def entry(self, name: str) -> Entry[T]:
        try:
            return self._entries[name]
        except KeyError:
            known = self.names()
            raise RegistryError(
                f"no {self.kind} named {name!r}{did_you_mean(name, known)}; registered "
                f"{self.plural}: {', '.join(known) or '(none)'}{self.failure_note()}"
            ) from None

    def failure_note(self) -> str:
        """``"; it may come from a plugin that failed: ..."`` naming each failure, or ``""``."""
        if not self.failures:
            return ""
        return f"; it may come from a plugin that failed: {'; '.join(self.failures)}"

    def get(self, name: str) -> T:
        return self.entry(name).obj

    def names(self) -> list[str]:
        return sorted(self._entries)

    def __contains__(self, name: object) -> bool:
        return name in self._entries

    def __iter__(self) -> Iterator[Entry[T]]:
        return iter(self._entries[n] for n in self.names())

    def __len__(self) -> int:
        return len(self._entries)


class Registries(Protocol):
    """The named registries that components are looked up in, each typed by what it holds.

    The :class:`~groupsup.plugins.PluginHost` is one (it fills each registry from its
    ``register_*`` hook); :class:`RegistrySet` is a plain one for tests and for building against
    other registries than the host's (two configurations in one process). Everything below the
    public facade takes a ``Registries`` argument and never reaches for the process-wide host.
    """

    datasets: Registry[DatasetSpec]
    backbones: Registry[type[Backbone]]
    losses: Registry[type[LossTerm]]
    recipes: Registry[RegisteredRecipe]
    strategies: Registry[type[Strategy]]
    callbacks: Registry[type[Callback]]
    evaluations: Registry[Evaluation]


@dataclass
class RegistrySet:
    """Registries held as plain attributes: fill them with :meth:`register`."""

    datasets: Registry[DatasetSpec] = field(default_factory=lambda: Registry("dataset"))
    backbones: Registry[type[Backbone]] = field(default_factory=lambda: Registry("backbone"))
    losses: Registry[type[LossTerm]] = field(
        default_factory=lambda: Registry("loss", "losses"))
    recipes: Registry[RegisteredRecipe] = field(default_factory=lambda: Registry("recipe"))
    strategies: Registry[type[Strategy]] = field(
        default_factory=lambda: Registry("strategy", "strategies"))
    callbacks: Registry[type[Callback]] = field(default_factory=lambda: Registry("callback"))
    evaluations: Registry[Evaluation] = field(default_factory=lambda: Registry("evaluation"))

    def register(self, kind: str, name: str, obj: Any, *, plugin: str = "(python)",
                 description: str = "") -> None:
        """Add *obj* as *name* to the registry of *kind* (``"backbones"``, ``"losses"``, ...)."""
        getattr(self, kind).add(Entry(name, obj, plugin, "(python)", "-", description))
