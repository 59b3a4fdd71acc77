"""Vectorised samplers over the clique storage of a :class:`~groupsup.graph.MultiGraph`.

Exact (one-overlap) partners of centre c for attribute j are drawn from two proposals, each
uniform over the valid partners once accepted:

- *perturbation*: keep a_j(c), draw every other attribute uniformly among the present values
  other than c's (plus the unknown slot where the attribute has unknown values; any value
  where c's own is unknown), and look the row up in the combination index (accept with probability
  multiplicity / max multiplicity). O(1) per draw; on a full grid it always succeeds.
- *clique*: draw a member of c's clique other than c, accept if it differs in every other
  attribute.

Each centre uses the proposal with the smaller candidate space (the higher acceptance) for a
bounded number of vectorised rounds; centres still unresolved, or whose acceptance is tiny,
get an exact draw by enumerating their clique. Every stage is uniform conditioned on reaching
it, so the mixture is uniform, and a centre is never moved when a draw fails. Centres without
any exact partner (known from the precomputed counts) get -1 without any draw.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from groupsup.errors import GroupsupError

if TYPE_CHECKING:
    from groupsup.graph.multigraph import MultiGraph

BLOCK = 1 << 16  # draws per vectorised pass: temporaries stay in cache
MAX_ROUNDS = 24
MIN_ACCEPTANCE = 0.05
ENUMERATION_CHUNK = 1 << 21  # candidates examined at once by the exact fallback


def in_blocks(n: int, draw: Callable[[int, int], np.ndarray]) -> np.ndarray:
    """Concatenate ``draw(start, stop)`` over blocks of at most :data:`BLOCK` items."""
    if n <= BLOCK:
        return draw(0, n)
    return np.concatenate([draw(a, min(a + BLOCK, n)) for a in range(0, n, BLOCK)])


def check_rng(rng: object) -> None:
    if not isinstance(rng, np.random.Generator):
        raise GroupsupError(f"samplers take a numpy Generator (np.random.default_rng(seed)), "
                            f"got {type(rng).__name__}")


@dataclass(frozen=True)
class PerturbationTables:
    """Per attribute l: the present values times l's key stride, and each value's rank among
    them (-1 when absent); ``space[j]``: candidates of the perturbation proposal for j."""

    scaled_values: tuple[np.ndarray, ...]
    rank: tuple[np.ndarray, ...]
    space: tuple[float, ...]


def perturbation_tables(graph: MultiGraph) -> PerturbationTables | None:
    """Tables for the perturbation proposal; None without a combination index or with A == 1."""
    index = graph.combination_index
    if index is None or graph.num_attributes == 1:
        return None
    scaled, ranks, present_counts = [], [], []
    for j, counts in enumerate(graph.value_counts):
        present = np.flatnonzero(counts > 0)
        if graph.unknown_slot[j] >= 0:  # an unknown value never blocks: a candidate too
            present = np.append(present, graph.unknown_slot[j])
        rank = np.full(graph.slot_cardinalities[j], -1, dtype=np.int64)
        rank[present] = np.arange(len(present))
        scaled.append(present * index.stride[j])
        ranks.append(rank)
        present_counts.append(len(present))
    space = []
    for j in range(graph.num_attributes):
        size = float(index.max_multiplicity)
        for other, p in enumerate(present_counts):
            if other != j:
                size *= p - 1
        space.append(size)
    return PerturbationTables(tuple(scaled), tuple(ranks), tuple(space))


# ---------------------------------------------------------------------- partners
def relaxed_partners(graph: MultiGraph, centres: np.ndarray, j: int,
                     rng: np.random.Generator) -> np.ndarray:
    """``(n,)`` partners sharing at least attribute j, uniform over c's clique minus c."""
    out = np.full(len(centres), -1, dtype=np.int64)
    size = graph.slot_counts[j].take(graph.rows.field(graph.rows.take(centres), j))
    todo = np.flatnonzero(size > 1)
    if todo.size:
        out[todo] = _clique_member(graph, centres[todo], j, rng)
    return out


def _clique_member(graph: MultiGraph, centres: np.ndarray, j: int,
                   rng: np.random.Generator) -> np.ndarray:
    """A uniform member of each centre's j-clique other than the centre (cliques of size >= 2).

    Draw among the first ``size - 1`` slots; if that is the centre, take the last slot, which
    is then the one member not otherwise reachable.
    """
    value = graph.rows.field(graph.rows.take(centres), j)
    start = graph.clique_offsets[j].take(value)
    size = graph.slot_counts[j].take(value)
    slot = start + rng.integers(0, size - 1)
    member = graph.clique_ids[j].take(slot).astype(np.int64)
    last = graph.clique_ids[j].take(start + size - 1)
    return np.where(member == centres, last, member)


def exact_partners(graph: MultiGraph, centres: np.ndarray, j: int,
                   rng: np.random.Generator) -> np.ndarray:
    """``(n,)`` partners sharing exactly attribute j (see the module docstring); -1 if none."""
    if graph.num_attributes == 1:
        return relaxed_partners(graph, centres, j, rng)
    out = np.full(len(centres), -1, dtype=np.int64)
    has_all = graph.exact_everywhere[j]
    counts = None if has_all else graph.partner_counts[0][j].take(centres)
    if counts is not None:
        todo = np.flatnonzero(counts > 0)
        centres, counts = centres[todo], counts[todo]
    if not centres.size:
        return out
    packed = graph.rows.take(centres)
    fields = [graph.rows.field(packed, k) for k in range(graph.num_attributes)]
    clique = graph.slot_counts[j].take(fields[j]) - 1
    tables = graph.perturbation_tables
    space = np.inf if tables is None else tables.space[j]
    found = np.full(len(centres), -1, dtype=np.int64)
    # Rounds run on the still-unresolved centres only; arrays shrink after each round.
    active = np.arange(len(centres))
    if counts is not None:
        active = np.flatnonzero(counts >= MIN_ACCEPTANCE * np.minimum(clique, space))
    act_centres, act_fields = centres[active], [f[active] for f in fields]
    act_perturb = clique[active] >= space
    for _ in range(MAX_ROUNDS):
        if not active.size:
            break
        if act_perturb.all():
            drawn = _perturbed(graph, tables, act_fields, j, rng, act_centres)
        elif not act_perturb.any():
            drawn = _one_overlap_member(graph, act_centres, act_fields, j, rng)
        else:
            drawn = np.empty(len(active), dtype=np.int64)
            sel = np.flatnonzero(act_perturb)
            drawn[sel] = _perturbed(graph, tables, [f[sel] for f in act_fields], j, rng,
                                    act_centres[sel])
            sel = np.flatnonzero(~act_perturb)
            drawn[sel] = _one_overlap_member(graph, act_centres[sel],
                                             [f[sel] for f in act_fields], j, rng)
        found[active] = drawn
        keep = np.flatnonzero(drawn < 0)
        active, act_centres, act_perturb = active[keep], act_centres[keep], act_perturb[keep]
        act_fields = [f[keep] for f in act_fields]
    rest = np.flatnonzero(found < 0)
    if rest.size:
        found[rest] = _enumerated(graph, [f[rest] for f in fields], j, rng, centres[rest])
    if counts is None:
        return found
    out[todo] = found
    return out


def _differing(graph: MultiGraph, ids: np.ndarray, fields: list[np.ndarray],
               skip: int = -1) -> np.ndarray:
    """``(n,)`` int: how many attributes (other than *skip*) example ids[e] does not share
    with the label row given by *fields* (one ``(n,)`` slot-code array per attribute): the
    values differ, or the row's value is unknown (unknown is shared with nobody)."""
    packed = graph.rows.take(ids)
    count = np.zeros(len(ids), dtype=np.int64)
    for k, field in enumerate(fields):
        if k != skip:
            differ = graph.rows.field(packed, k) != field
            if graph.unknown_slot[k] >= 0:
                differ |= field == graph.unknown_slot[k]
            count += differ
    return count


def _one_overlap_member(graph: MultiGraph, centres: np.ndarray, fields: list[np.ndarray],
                        j: int, rng: np.random.Generator) -> np.ndarray:
    """Clique proposal: a uniform clique member other than the centre, kept (else -1) when
    it differs from the centre in every attribute but j."""
    member = _clique_member(graph, centres, j, rng)
    differ = _differing(graph, member, fields, skip=j)
    return np.where(differ == graph.num_attributes - 1, member, -1)


def _perturbed(graph: MultiGraph, tables: PerturbationTables, fields: list[np.ndarray],
               j: int, rng: np.random.Generator, centres: np.ndarray) -> np.ndarray:
    """Perturbation proposal for centres with the given label fields: an exact partner id,
    or -1 when the drawn row does not exist (or loses the multiplicity draw, or is the
    centre itself: possible only when the centre knows no attribute but j)."""
    index = graph.combination_index
    n = len(fields[j])
    key = fields[j] * index.stride[j]
    for other in range(graph.num_attributes):
        if other == j:
            continue
        choices = len(tables.scaled_values[other])
        rank = tables.rank[other].take(fields[other])
        if graph.unknown_slot[other] < 0:
            pick = rng.integers(0, choices - 1, size=n)
            pick += pick >= rank
        else:  # a centre's own unknown value excludes nothing: any candidate is not shared
            own = fields[other] != graph.unknown_slot[other]
            pick = rng.integers(0, choices - own)
            pick += own & (pick >= rank)
        key += tables.scaled_values[other].take(pick)
    start, count = index.lookup(key)
    if index.max_multiplicity == 1:
        ok = count > 0
    else:
        offset = rng.integers(0, index.max_multiplicity, size=n)
        ok = offset < count
        start += np.where(ok, offset, 0)
    drawn = np.where(ok, index.ids.take(np.where(ok, start, 0)), -1)
    if graph.has_unknown:
        drawn[drawn == centres] = -1
    return drawn


def _enumerated(graph: MultiGraph, fields: list[np.ndarray], j: int,
                rng: np.random.Generator, centres: np.ndarray) -> np.ndarray:
    """Exact draw by enumeration: list each centre's clique, keep the one-overlap members and
    pick one uniformly. Work is the summed clique size, done in bounded chunks."""
    size = graph.value_counts[j][fields[j]]
    start = graph.clique_offsets[j][fields[j]]
    out = np.empty(len(size), dtype=np.int64)
    bounds = _chunks(size, ENUMERATION_CHUNK)
    for a, b in itertools.pairwise(bounds):
        s = size[a:b]
        owner = np.repeat(np.arange(b - a), s)
        first = np.cumsum(s) - s
        slot = np.arange(len(owner)) - first[owner] + start[a:b][owner]
        candidate = graph.clique_ids[j][slot].astype(np.int64)
        differ = _differing(graph, candidate, [f[a:b][owner] for f in fields], skip=j)
        valid = np.flatnonzero((differ == graph.num_attributes - 1)
                               & (candidate != centres[a:b][owner]))
        per_centre = np.bincount(owner[valid], minlength=b - a)
        starts = np.cumsum(per_centre) - per_centre
        out[a:b] = candidate[valid[starts + rng.integers(0, per_centre)]]
    return out


def _chunks(sizes: np.ndarray, budget: int) -> np.ndarray:
    """Boundaries ``[0, ..., n]`` splitting items so that each chunk's size sum is about
    *budget* (a single bigger item gets a chunk of its own)."""
    total = np.cumsum(sizes)
    bounds = [0]
    while bounds[-1] < len(sizes):
        base = total[bounds[-1] - 1] if bounds[-1] else 0
        stop = int(np.searchsorted(total, base + budget, side="right"))
        bounds.append(max(stop, bounds[-1] + 1))
    return np.asarray(bounds)


# ---------------------------------------------------------------------- edges and pairs
def random_edges(graph: MultiGraph, j: int, n: int, rng: np.random.Generator) -> np.ndarray:
    """``(n, 2)`` uniform edges of attribute j: a clique by its edge count, then two members."""
    counts = graph.value_counts[j]
    pairs = np.cumsum(counts * (counts - 1) // 2)
    if n and pairs[-1] == 0:
        raise GroupsupError(f"attribute {graph.names[j]!r} has no edges: no two examples share "
                            "a value")
    value = np.searchsorted(pairs, rng.integers(0, max(int(pairs[-1]), 1), size=n), side="right")
    start, size = graph.clique_offsets[j][value], counts[value]
    first = rng.integers(0, size)
    second = rng.integers(0, size - 1)
    second += second >= first
    ids = graph.clique_ids[j]
    return np.stack([ids[start + first], ids[start + second]], axis=1).astype(np.int64)


def no_overlap_pairs(graph: MultiGraph, n: int, rng: np.random.Generator) -> np.ndarray:
    """``(n, 2)`` ordered pairs sharing no attribute, uniform over all such pairs.

    Rejection from uniform pairs of distinct examples for a bounded number of rounds; then
    the first member by its no-overlap degree and the second by enumeration.
    """
    single = [name for name, c, slot in zip(graph.names, graph.value_counts, graph.unknown_slot)
              if (c > 0).sum() < 2 and slot < 0]
    if n and (single or len(graph) < 2):
        raise GroupsupError(f"no two examples differ in every attribute: attributes {single} "
                            "hold a single value")
    out = np.empty((n, 2), dtype=np.int64)
    pending = np.arange(n)
    size = len(graph)
    for _ in range(MAX_ROUNDS):
        if not pending.size:
            break
        first = rng.integers(0, size, size=len(pending))
        second = rng.integers(0, size - 1, size=len(pending))
        second += second >= first
        fields_first = graph.rows.take(first)
        ok = _differing(graph, second, [graph.rows.field(fields_first, k)
                                        for k in range(graph.num_attributes)])
        ok = ok == graph.num_attributes
        out[pending[ok], 0], out[pending[ok], 1] = first[ok], second[ok]
        pending = pending[~ok]
    if pending.size:
        out[pending] = _enumerated_no_overlap(graph, len(pending), rng)
    return out


def _enumerated_no_overlap(graph: MultiGraph, n: int, rng: np.random.Generator) -> np.ndarray:
    degree = graph.no_overlap_counts().astype(np.int64)
    cumulative = np.cumsum(degree)
    if cumulative[-1] == 0:
        raise GroupsupError("no two examples differ in every attribute (no pair for the cycle "
                            "swap)")
    first = np.searchsorted(cumulative, rng.integers(0, cumulative[-1], size=n), side="right")
    rank = rng.integers(0, degree[first])
    out = np.empty((n, 2), dtype=np.int64)
    out[:, 0] = first
    per_chunk = max(1, ENUMERATION_CHUNK // len(graph))
    for a in range(0, n, per_chunk):
        b = min(a + per_chunk, n)
        rows = graph.labels[first[a:b], None, :]
        differ = ((graph.labels[None, :, :] != rows) | (rows < 0)).all(axis=2)
        differ[np.arange(b - a), first[a:b]] = False  # i itself, when it knows nothing
        _, col = np.nonzero(differ)  # row-major: each row's columns ascending
        per_row = differ.sum(axis=1)
        out[a:b, 1] = col[np.cumsum(per_row) - per_row + rank[a:b]]
    return out
