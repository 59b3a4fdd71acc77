"""The multigraph of a labelled dataset, its samplers, group strategies and zero-shot splits."""

from groupsup.graph.admissibility import Admissibility, AttributeReport
from groupsup.graph.multigraph import MultiGraph
from groupsup.graph.splits import (
    Rule,
    Split,
    build_split,
    column_split,
    held_out_split,
    random_combinations,
    rule_split,
)
from groupsup.graph.strategies import (
    CentreCover,
    EdgeStrategy,
    NoOverlapPairs,
    Strategy,
)

__all__ = [
    "Admissibility",
    "AttributeReport",
    "CentreCover",
    "EdgeStrategy",
    "MultiGraph",
    "NoOverlapPairs",
    "Rule",
    "Split",
    "Strategy",
    "build_split",
    "column_split",
    "held_out_split",
    "random_combinations",
    "rule_split",
]
