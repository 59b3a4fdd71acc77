"""The arguments of ``groupsup compare`` checked before anything trains: counts, config names,
``--seeds-for`` and the configs' ``[evaluate]`` tables (one judge reads every row)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import groupsup as gs


def check_arguments(names: Sequence[str], *, budget: float, seeds: int,
                    seeds_for: dict[str, int], curve_points: int, workers: int) -> None:
    """Refuse a comparison that cannot run, before anything trains (a ConfigError)."""
    if budget <= 0:
        raise gs.ConfigError(f"--budget must be positive seconds, got {budget:g}")
    if seeds < 1 or curve_points < 0 or workers < 1 or any(n < 1 for n in seeds_for.values()):
        raise gs.ConfigError(f"--seeds, --seeds-for and --jobs must be >= 1 and --curve-points "
                             f">= 0, got seeds {seeds}, seeds-for {seeds_for}, jobs {workers} "
                             f"and curve points {curve_points}")
    if not names:
        raise gs.ConfigError("compare needs at least one CONFIG")
    doubled = sorted({n for n in names if names.count(n) > 1})
    if doubled:
        raise gs.ConfigError(f"config file names must differ (each names its run folder); "
                             f"{doubled} appear twice")
    unknown = sorted(set(seeds_for) - set(names))
    if unknown:
        raise gs.ConfigError(f"--seeds-for names {unknown}, which are not among the configs "
                             f"{names} (use a config file's stem)")


def shared_evaluation_table(paths: Sequence[str | Path],
                            configs: Sequence[gs.ExperimentConfig]) -> gs.EvalOptions:
    """The options the configs' ``[evaluate]`` tables set (one judge reads every row, so they
    must agree; none set: the defaults). A ConfigError names two configs that differ."""
    tables = [config.evaluate for config in configs]
    for path, table in zip(paths, tables):
        if table != tables[0]:
            raise gs.ConfigError(f"{path} sets [evaluate] {table} but {paths[0]} sets "
                                 f"{tables[0]}: every row is read by one judge, so the "
                                 "configs must agree (or pass the options as flags)")
    return gs.EvalOptions.from_table(tables[0], str(paths[0]))


def parse_seeds_for(items: Sequence[str]) -> dict[str, int]:
    """``["gzsnet=3", ...]`` -> ``{"gzsnet": 3}``; a malformed item is a ConfigError."""
    counts = {}
    for item in items:
        stem, _, count = item.partition("=")
        if not stem or not count.isdigit():
            raise gs.ConfigError(f"--seeds-for {item!r}: expected STEM=N, for example "
                                 f"gzsnet=3")
        counts[stem] = int(count)
    return counts
