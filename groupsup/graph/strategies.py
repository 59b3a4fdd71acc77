"""Group strategies: turn the multigraph into :class:`~groupsup.GroupBatch` es.

A strategy is built as ``Strategy(graph, config)`` (``config`` a pydantic ``Config`` or a
dict) and draws ``sample(groups, rng)`` using only the numpy Generator it is given, so step k
of a run is reproducible from ``(seed, rank, k)`` alone. ``provides`` names the GroupBatch
relation kinds it fills (``"swap"``, ``"cover"``, ``"cycle"``, or any kind of a plugin's own).

Built-in strategies (registered through ``register_strategies`` like any plugin's):

- ``centre-cover``: a centre plus one partner per attribute (exact one-overlap or relaxed);
  swap pairs (centre, partner j) for every j and one cover reconstruction of the centre.
- ``edge``: one edge per attribute per group with independent centres; swap pairs only.
- ``no-overlap-pairs``: pairs sharing no attribute, for the cycle swap only.

``cycle_pairs`` appends that many no-overlap pairs to every group of the first two (each with
a random block to swap), so one strategy serves recipes with a cycle term (RaFD).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import Any, ClassVar, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from groupsup.errors import GroupsupError
from groupsup.graph.multigraph import MultiGraph
from groupsup.groups import GroupBatch, Relation
from groupsup.hookspecs import hookimpl
from groupsup.validation import validate


class Strategy(ABC):
    """Base class of group strategies: holds the graph and the validated config."""

    name: ClassVar[str] = "strategy"

    class Config(BaseModel):
        model_config = ConfigDict(extra="forbid")

    def __init__(self, graph: MultiGraph, config: BaseModel | dict[str, Any] | None = None):
        self.graph = graph
        self.config = self.parse_config(config)

    @classmethod
    def parse_config(cls, config: BaseModel | dict[str, Any] | None) -> Any:
        """A validated ``cls.Config``; errors name the strategy and the bad key."""
        if isinstance(config, cls.Config):
            return config
        if isinstance(config, BaseModel):
            config = config.model_dump()
        return validate(cls.Config, config or {}, f"strategy {cls.name!r}", noun="option")

    @property
    @abstractmethod
    def provides(self) -> frozenset[str]:
        """The GroupBatch relation kinds this strategy fills (``"swap"``, ``"cover"``,
        ``"cycle"``, or a plugin's own)."""

    @abstractmethod
    def sample(self, groups: int, rng: np.random.Generator) -> GroupBatch:
        """Draw *groups* groups with *rng*."""

    def report(self) -> PartnerReport | None:
        """What this strategy reports about the training data before a run (its warnings
        shown, written to ``RUN/partners.json``); ``None``: nothing to report."""
        return None

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.config!r})"


def _centres(pool: np.ndarray | None, size: int, n: int, rng: np.random.Generator
             ) -> np.ndarray:
    """*n* ids uniform over *pool* (None: over all *size* examples)."""
    if pool is None:
        return rng.integers(0, size, size=n)
    return pool[rng.integers(0, len(pool), size=n)]


def _pool(ok: np.ndarray) -> np.ndarray | None:
    """Ids where *ok* holds; None when it holds everywhere (draw from all examples)."""
    return None if ok.all() else np.flatnonzero(ok)


def _no_partner(graph: MultiGraph, exact: bool) -> list[str]:
    return [n for n in graph.names if not graph.has_partner(n, exact).any()]


def _single_valued_cause(graph: MultiGraph, exact: bool) -> str | None:
    """The real cause when exact partners are missing because an attribute has one value only:
    an exact partner for attribute j must differ in every other attribute, that one included,
    so the attributes it would otherwise blame are innocent."""
    if not exact or graph.num_attributes < 2:
        return None
    single = [n for j, n in enumerate(graph.names)
              if int((graph.value_counts[j] > 0).sum()) < 2 and graph.unknown_slot[j] < 0]
    if not single:
        return None
    return (f"attribute(s) {single} have only one value in the data, so no example can have an "
            f"exact partner for any other attribute (an exact partner differs in every other "
            f"attribute, {single} included); drop them from the schema or use exact=false")


class _WithCycle(Strategy):
    """Shared by strategies that may append ``cycle_pairs`` no-overlap pairs per group."""

    def _cycle(self, groups: int, per_group: int, offset: int, rng: np.random.Generator
               ) -> tuple[np.ndarray, Relation]:
        """``(examples (groups, 2P), the cycle relation)``; pair positions are relative to each
        group's start plus *offset* (the group's core size), each pair with a random block."""
        p = self.config.cycle_pairs
        pairs = self.graph.no_overlap_pairs(groups * p, rng).reshape(groups, 2 * p)
        local = offset + np.arange(2 * p).reshape(p, 2)
        positions = (np.arange(groups)[:, None, None] * per_group + local).reshape(-1, 2)
        attribute = rng.integers(0, self.graph.num_attributes, size=groups * p)
        return pairs, Relation.pairs(positions, attribute)


@dataclass(frozen=True)
class PartnerReport:
    """How centre-cover partners are found, counted over every example as a centre.

    ``counts[attribute]`` is ``{"exact": n, "relaxed": n, "none": n}`` (and ``"unknown": n``
    when some label is unknown): examples
    whose partner for that attribute is exact (one-overlap), relaxed (shares the value and
    possibly more), missing (no other example shares the value: the centre stands in for its
    own partner, so that attribute's swap degenerates into a self reconstruction), or whose
    value is unknown (the centre provides that block itself, likewise). ``never_recombined`` lists
    per attribute the values held by one example only: no swap ever transfers them.

    ``examples`` training examples, of which ``centres`` can centre a group (all of them but
    under ``fallback = "off"``); ``never_centre[attribute]`` says, for the examples left out,
    how many lack a partner of the requested kind for that attribute (``"examples"``) and which
    of its values then never centre a group at all (``"values"``): under a zero-shot split
    those are often exactly the values the test asks about.
    """

    exact: bool
    counts: dict[str, dict[str, int]]
    never_recombined: dict[str, list[str]]
    cause: str | None = None  # why exact partners are missing everywhere, when one is known
    examples: int = 0
    centres: int = 0
    never_centre: dict[str, dict[str, Any]] = field(default_factory=dict)

    def lines(self) -> list[str]:
        """One line per attribute, for a console or a log."""
        return [f"{name}: {c['exact']:,} exact, {c['relaxed']:,} relaxed, {c['none']:,} none"
                + (f", {c['unknown']:,} unknown" if c.get("unknown") else "")
                for name, c in self.counts.items()]

    def warnings(self) -> list[str]:
        """One message per attribute with values that can never be recombined, after the cause
        of missing exact partners when one is known."""
        out = [f"centre-cover: {self.cause}"] if self.cause else []
        if self.centres < self.examples:
            kind = "an exact (one-overlap)" if self.exact else "a"
            parts = [f"{name} ({n['examples']:,} without {kind} partner"
                     + (f"; values never centring: {_shown(n['values'])}" if n["values"] else "")
                     + ")" for name, n in self.never_centre.items()]
            out.append(f"centre-cover (fallback='off'): {self.examples - self.centres:,} of "
                       f"{self.examples:,} training examples never centre a group: "
                       f"{'; '.join(parts)}. fallback='relaxed' trains them as centres")
        for name, values in self.never_recombined.items():
            out.append(f"attribute {name!r}: {len(values)} value(s) held by a single training "
                       f"example can never be recombined: {_shown(values)}")
        return out

    def to_dict(self) -> dict[str, Any]:
        return {"exact": self.exact, "examples": self.examples, "centres": self.centres,
                "never_centre": self.never_centre, "counts": self.counts,
                "never_recombined": self.never_recombined, "cause": self.cause}


def _shown(values: list[str], most: int = 8) -> str:
    return ", ".join(values[:most]) + (f" (+{len(values) - most} more)" if len(values) > most
                                       else "")


class CentreCover(_WithCycle):
    """A centre C plus one partner per attribute; partner j shares attribute j with C.

    Group layout (positions within a group of ``A + 1 + 2 * cycle_pairs`` images):
    ``[C, partner_0, ..., partner_{A-1}, cycle pairs...]``. Swap pairs ``(C, partner_j)`` with
    swap attribute j; cover target C with providers ``partner_0 .. partner_{A-1}``.

    Every example is a centre (``fallback="relaxed"``, the default): where a centre has no
    exact partner for attribute j it gets a relaxed one (same value of j), and where no other
    example shares its value of j it is its own partner j. :meth:`report` counts each
    case. ``fallback="off"`` draws centres only among the examples that have a partner of the
    requested kind for every attribute they know (and never falls back).

    A centre whose value of attribute j is unknown is its own partner j under either fallback:
    its block j comes from itself (the swap for j is a self reconstruction), since no example
    is known to share that value.
    """

    name = "centre-cover"

    class Config(BaseModel):
        model_config = ConfigDict(extra="forbid")
        exact: bool = Field(True, description="partners share exactly one attribute "
                            "(one-overlap); False: at least that one")
        fallback: Literal["relaxed", "off"] = Field(
            "relaxed", description="'relaxed': every example is a centre; an attribute "
            "without an exact partner uses a relaxed one, without any partner the centre "
            "itself. 'off': centres only where every attribute has a partner of the requested "
            "kind")
        cycle_pairs: int = Field(0, ge=0, description="no-overlap pairs appended per group")

    def __init__(self, graph: MultiGraph, config: BaseModel | dict[str, Any] | None = None):
        super().__init__(graph, config)
        exact = self.config.exact
        self._relaxed = [graph.has_partner(j, False) for j in range(graph.num_attributes)]
        self._exact = ([graph.has_partner(j, True) for j in range(graph.num_attributes)]
                       if exact else self._relaxed)
        if self.config.fallback == "relaxed":
            self.centres = None
            return
        known = graph.labels >= 0
        ok = np.logical_and.reduce([e | ~known[:, j] for j, e in enumerate(self._exact)])
        ok &= known.any(axis=1)
        if not ok.any():
            kind = "an exact (one-overlap)" if exact else "a"
            missing = _no_partner(graph, exact)
            detail = (_single_valued_cause(graph, exact)
                      or (f"no example has {kind} partner for attribute(s) {missing}" if missing
                          else f"no example has {kind} partner for every attribute at once"))
            raise GroupsupError(f"strategy 'centre-cover' (exact={exact}, fallback='off'): "
                                f"{detail}; see graph.admissibility()")
        self.centres = _pool(ok)

    @property
    def provides(self) -> frozenset[str]:
        return frozenset({"swap", "cover"} | ({"cycle"} if self.config.cycle_pairs else set()))

    def report(self) -> PartnerReport:
        """Per attribute, how many centres get an exact, a relaxed or no partner."""
        g = self.graph
        pool = np.ones(len(g), dtype=bool) if self.centres is None else np.zeros(len(g), bool)
        if self.centres is not None:
            pool[self.centres] = True
        counts, never = {}, {}
        for j, name in enumerate(g.names):
            exact = self._exact[j] & pool
            relaxed = self._relaxed[j] & pool & ~exact
            unknown = pool & (g.labels[:, j] < 0)
            counts[name] = {"exact": int(exact.sum()), "relaxed": int(relaxed.sum()),
                            "none": int((pool & ~exact & ~relaxed & ~unknown).sum())}
            if g.has_unknown:
                counts[name]["unknown"] = int(unknown.sum())
            single = np.flatnonzero(g.value_counts[j] == 1)
            if len(single):
                values = g.schema.attributes[j].values
                never[name] = [str(values[v]) for v in single]
        return PartnerReport(self.config.exact, counts, never,
                             _single_valued_cause(g, self.config.exact), examples=len(g),
                             centres=int(pool.sum()), never_centre=self._never_centre(pool))

    def _never_centre(self, pool: np.ndarray) -> dict[str, dict[str, Any]]:
        """Per attribute with examples left out of *pool* for want of a partner of the
        requested kind: how many, and the values no centre holds."""
        g, out = self.graph, {}
        for j, name in enumerate(g.names):
            known = g.labels[:, j] >= 0
            lacking = ~self._exact[j] & known & ~pool
            if not lacking.any():
                continue
            k = len(g.schema.attributes[j].values)
            held = np.bincount(g.labels[known, j], minlength=k) > 0
            centred = np.bincount(g.labels[pool & known, j], minlength=k) > 0
            values = g.schema.attributes[j].values
            out[name] = {"examples": int(lacking.sum()),
                         "values": [str(values[v]) for v in np.flatnonzero(held & ~centred)]}
        return out

    def sample(self, groups: int, rng: np.random.Generator) -> GroupBatch:
        g, a = self.graph, self.graph.num_attributes
        core = a + 1
        per_group = core + 2 * self.config.cycle_pairs
        centres = _centres(self.centres, len(g), groups, rng)
        members = np.empty((groups, per_group), dtype=np.int64)
        members[:, 0] = centres
        for j in range(a):
            members[:, 1 + j] = self._partners(centres, j, rng)
        start = np.arange(groups)[:, None] * per_group
        partner_pos = start + 1 + np.arange(a)
        swap_pairs = np.stack([np.broadcast_to(start, (groups, a)), partner_pos],
                              axis=-1).reshape(-1, 2)
        relations = {"swap": Relation.pairs(swap_pairs, np.tile(np.arange(a), groups)),
                     "cover": Relation.cover(start[:, 0], partner_pos)}
        if self.config.cycle_pairs:
            members[:, core:], relations["cycle"] = self._cycle(groups, per_group, core, rng)
        return GroupBatch(members.reshape(-1), relations, groups=groups)

    def _partners(self, centres: np.ndarray, j: int, rng: np.random.Generator) -> np.ndarray:
        """Partner j of each centre: of the requested kind where one exists, else relaxed,
        else the centre itself."""
        exact = self.config.exact
        if self.centres is not None:  # fallback off: the requested kind, where known
            known = self.graph.labels[centres, j] >= 0
            if known.all():
                return self.graph.partners(centres, j, rng, exact=exact)
            out = centres.copy()
            out[known] = self.graph.partners(centres[known], j, rng, exact=exact)
            return out
        out = centres.copy()
        first = self._exact[j][centres]
        if first.any():
            out[first] = self.graph.partners(centres[first], j, rng, exact=exact)
        second = ~first & self._relaxed[j][centres]
        if exact and second.any():
            out[second] = self.graph.partners(centres[second], j, rng, exact=False)
        return out


class EdgeStrategy(_WithCycle):
    """One edge per attribute per group, each with its own centre (the paper's "edge"
    strategy for custom data): endpoints share that attribute, and by default may share more.

    Group layout: ``[c_0, p_0, c_1, p_1, ..., c_{A-1}, p_{A-1}, cycle pairs...]``; swap pair
    ``(c_j, p_j)`` with swap attribute j. Centre j is uniform over the examples that have a
    partner for attribute j.
    """

    name = "edge"

    class Config(BaseModel):
        model_config = ConfigDict(extra="forbid")
        exact: bool = Field(False, description="True: endpoints share exactly one attribute")
        cycle_pairs: int = Field(0, ge=0, description="no-overlap pairs appended per group")

    def __init__(self, graph: MultiGraph, config: BaseModel | dict[str, Any] | None = None):
        super().__init__(graph, config)
        exact = self.config.exact
        missing = _no_partner(graph, exact)
        if missing:
            kind = "an exact (one-overlap)" if exact else "a"
            detail = (_single_valued_cause(graph, exact)
                      or f"no example has {kind} partner for attribute(s) {missing}")
            raise GroupsupError(f"strategy 'edge' (exact={exact}): {detail}; see "
                                "graph.admissibility()")
        self.centres = [_pool(graph.has_partner(n, exact)) for n in graph.names]

    @property
    def provides(self) -> frozenset[str]:
        return frozenset({"swap"} | ({"cycle"} if self.config.cycle_pairs else set()))

    def sample(self, groups: int, rng: np.random.Generator) -> GroupBatch:
        g, a = self.graph, self.graph.num_attributes
        core = 2 * a
        per_group = core + 2 * self.config.cycle_pairs
        members = np.empty((groups, per_group), dtype=np.int64)
        for j in range(a):
            centres = _centres(self.centres[j], len(g), groups, rng)
            members[:, 2 * j] = centres
            members[:, 2 * j + 1] = g.partners(centres, j, rng, exact=self.config.exact)
        start = np.arange(groups)[:, None] * per_group
        swap_pairs = (start[:, :, None] + np.arange(core).reshape(a, 2)).reshape(-1, 2)
        relations = {"swap": Relation.pairs(swap_pairs, np.tile(np.arange(a), groups))}
        if self.config.cycle_pairs:
            members[:, core:], relations["cycle"] = self._cycle(groups, per_group, core, rng)
        return GroupBatch(members.reshape(-1), relations, groups=groups)


class NoOverlapPairs(Strategy):
    """Pairs of examples sharing no attribute, for the cycle swap alone: each group is
    ``pairs`` such pairs, each with a uniformly drawn attribute block to swap."""

    name = "no-overlap-pairs"

    class Config(BaseModel):
        model_config = ConfigDict(extra="forbid")
        pairs: int = Field(1, ge=1, description="no-overlap pairs per group")

    @property
    def provides(self) -> frozenset[str]:
        return frozenset({"cycle"})

    def sample(self, groups: int, rng: np.random.Generator) -> GroupBatch:
        n = groups * self.config.pairs
        pairs = self.graph.no_overlap_pairs(n, rng)
        cycle = Relation.pairs(np.arange(2 * n).reshape(n, 2),
                               rng.integers(0, self.graph.num_attributes, size=n))
        return GroupBatch(pairs.reshape(-1), {"cycle": cycle}, groups=groups)


BUILTIN_STRATEGIES: tuple[type[Strategy], ...] = (CentreCover, EdgeStrategy, NoOverlapPairs)


@hookimpl
def register_strategies(register):
    for cls in BUILTIN_STRATEGIES:
        register(cls.name, cls, description=(cls.__doc__ or "").strip().splitlines()[0])
