"""``groupsup graph SOURCE``: the multigraph of a dataset, its edge counts and admissibility.

SOURCE is a registered dataset name (options with ``--option key=value``), a store directory
(``manifest.json``), or an image folder with ``--pattern`` or ``--manifest``.
"""

from __future__ import annotations

import argparse
import json
import math
import time
from pathlib import Path
from typing import Any

import numpy as np

from groupsup.cli import Command, add_key_values
from groupsup.data.dataset import GroupDataset
from groupsup.data.folder import pattern_fields, read_manifest_rows
from groupsup.data.spec import DatasetSpec
from groupsup.errors import ConfigError, DataError, did_you_mean
from groupsup.graph import Admissibility, MultiGraph, Split
from groupsup.hookspecs import hookimpl
from groupsup.plugins import get_host
from groupsup.schema import Attribute, Schema


def _configure(p: argparse.ArgumentParser) -> None:
    p.add_argument("source", help="a registered dataset name, a store directory, or an image "
                   "folder (with --pattern or --manifest)")
    add_key_values(p, "--option", "-o",
                   help="an option of a registered dataset (repeatable); values parse as "
                   "for `train --set`: a TOML or JSON literal when they are one, else text")
    folder = p.add_argument_group("image folder", "how to read a SOURCE that is a folder")
    folder.add_argument("--pattern", help="file-name pattern relative to the folder, e.g. "
                        "'{letter}_{size}_{font}.png'; its fields name the attributes; {_id} or "
                        "* skip a part that is not a label")
    folder.add_argument("--manifest", help="CSV/JSON with a path column and one per attribute")
    folder.add_argument("--attributes", metavar="A,B,...", help="with --manifest: the columns "
                        "that are attributes (default: every column but 'path')")
    p.add_argument("--split", metavar="NAME", help="report the training side of this zero-shot "
                   "split (as `train` makes it): 'random-combinations' or a split the dataset "
                   "names")
    add_key_values(p, "--split-option",
                   help="an option of --split, e.g. fraction=0.2 (repeatable; values parse "
                   "as --option values do)")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.add_argument("--export", metavar="FILE.graphml", help="write the explicit multigraph of "
                   "a node subset as GraphML")
    p.add_argument("--nodes", type=int, metavar="N", help="with --export: a random subset of N "
                   "examples (default: all)")
    p.add_argument("--seed", type=int, default=1, help="seed of --split (a config's `seed`, "
                   "default 1 there too) and of the --nodes subset")
    p.add_argument("--max-edges", type=int, default=2_000_000,
                   help="refuse exports with more edges (default 2,000,000)")


def _options(items: list[str], flag: str = "--option") -> dict[str, Any]:
    """``["size=32", "fonts=['a', 'b']"]`` -> a dict; values parse as ``train --set`` values do
    (a TOML or JSON literal when they are one, else text)."""
    from groupsup.train.config import parse_value

    out: dict[str, Any] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise ConfigError(f"{flag} {item!r}: expected KEY=VALUE")
        out[key.strip()] = parse_value(value.strip())
    return out


def _folder_schema(root: Path, pattern: str | None, manifest: str | None,
                   attributes: list[str] | None = None) -> type[Schema]:
    """Attributes of a folder: the pattern's fields, or the manifest's columns (*attributes*, or
    all but 'path')."""
    if pattern is not None:
        if attributes is not None:
            raise ConfigError("--attributes picks manifest columns; in a --pattern, write "
                              "{_name} for a part of the name that is not an attribute")
        names = pattern_fields(pattern)
        if not names:
            raise ConfigError(f"--pattern {pattern!r} has no {{attribute}} fields ({{_name}} and "
                              "* are ignored parts)")
    else:
        path, rows = read_manifest_rows(root, Path(manifest))
        if not rows or not isinstance(rows[0], dict):
            raise DataError(f"{path}: the manifest has no rows")
        columns = list(rows[0])
        names = [c for c in columns if c != "path"] if attributes is None else attributes
        for name in names:
            if name not in columns or name == "path":
                raise ConfigError(f"--attributes: {path} has no attribute column {name!r}"
                                  f"{did_you_mean(name, columns)}; columns: {', '.join(columns)}")
        if not names:
            raise DataError(f"{path}: no attribute columns besides 'path'")
    # Latent sizes do not matter to the graph; values are discovered from the labels.
    return Schema.define(root.name or "Folder", [Attribute(name=n, latent=1) for n in names])


def load_source(source: str, options: dict[str, Any], pattern: str | None,
                manifest: str | None, attributes: list[str] | None = None
                ) -> tuple[GroupDataset, DatasetSpec | None]:
    """The GroupDataset that SOURCE names (see the module docstring), and its registered spec
    (None for a store or folder)."""
    path = Path(source)
    if attributes is not None and manifest is None:
        raise ConfigError("--attributes picks the columns of a --manifest")
    if pattern is not None or manifest is not None:
        if pattern is not None and manifest is not None:
            raise ConfigError("give --pattern or --manifest, not both")
        schema = _folder_schema(path, pattern, manifest, attributes)
        return GroupDataset.from_folder(schema, path, pattern=pattern, manifest=manifest), None
    if (path / "manifest.json").is_file():
        if options:
            raise ConfigError("--option applies to registered datasets, not to a store")
        return GroupDataset.from_store(path), None
    registry = get_host().datasets
    if source in registry:
        spec = registry.get(source)
        return spec.build(options), spec
    if path.is_dir():
        raise ConfigError(f"{source}: a folder needs --pattern or --manifest to label its images")
    raise ConfigError(f"{source}: neither a registered dataset ({', '.join(registry.names())}) "
                      f"nor a store or image folder{registry.failure_note()}")


def _registered(args: argparse.Namespace) -> bool:
    """Whether SOURCE is a registered dataset (not a store or a folder)."""
    return (args.pattern is None and args.manifest is None and args.attributes is None
            and not (Path(args.source) / "manifest.json").is_file()
            and args.source in get_host().datasets)


def _resolve_registered(args: argparse.Namespace
                        ) -> tuple[GroupDataset, GroupDataset, Split | None, MultiGraph, float]:
    """A registered dataset with its --option and --split resolved as ``groupsup train``
    resolves a config's ``[dataset]``: ``(full dataset, training side, split, its graph,
    seconds the graph took)``."""
    from groupsup.train.config import ExperimentConfig
    from groupsup.train.resolve import resolve_data

    config = ExperimentConfig.model_validate({
        "seed": args.seed,
        "dataset": {"name": args.source, "options": _options(args.option),
                    "split": args.split or "none",
                    "split_options": _options(args.split_option, "--split-option")}})
    data = resolve_data(config, get_host(), keys=("--split", "--split-option"))
    return data.dataset, data.train_dataset, data.split, data.graph, data.graph_seconds


def _load_graph(args: argparse.Namespace, attributes: list[str] | None
                ) -> tuple[GroupDataset, GroupDataset, Split | None, MultiGraph, float]:
    """SOURCE's ``(full dataset, the side the graph is of, split, graph, seconds the graph
    took)``: a registered dataset as ``groupsup train`` resolves it, else a store or folder
    split here."""
    from groupsup.graph.splits import build_split

    if _registered(args):
        return _resolve_registered(args)
    dataset, spec = load_source(args.source, _options(args.option), args.pattern,
                                args.manifest, attributes)
    split = None if args.split is None else build_split(
        dataset, args.split, seed=args.seed,
        options=_options(args.split_option, "--split-option"),
        named=getattr(spec, "splits", {}) or {},
        dataset_options=({"root": args.source, "manifest": args.manifest}
                         if args.manifest else _options(args.option)),
        dataset_name=args.source, keys=("--split", "--split-option"))
    full = dataset
    if split is not None:
        dataset = dataset.subset(split.train, name="train")
    started = time.perf_counter()
    graph = MultiGraph(dataset)
    return full, dataset, split, graph, time.perf_counter() - started


def _export(args: argparse.Namespace, graph: MultiGraph) -> dict[str, Any]:
    """Write the GraphML of --export (a --nodes subset drawn with --seed); what it wrote."""
    from groupsup.graph.export import write_graphml

    nodes = None
    if args.nodes is not None:
        if not 0 < args.nodes <= len(graph):
            raise ConfigError(f"--nodes must be in 1..{len(graph)}, got {args.nodes}")
        rng = np.random.default_rng(args.seed)
        nodes = np.sort(rng.choice(len(graph), size=args.nodes, replace=False))
    return {"path": args.export, **write_graphml(graph, args.export, nodes, args.max_edges)}


def _print_report(report: dict[str, Any], dataset: GroupDataset, graph: MultiGraph,
                  admissibility: Admissibility, elapsed: float) -> None:
    """The report as text."""
    if "split" in report:
        s = report["split"]
        print(f"split {s['name']!r} (seed {s['seed']}): the training side, {s['train']:,} of "
              f"{s['examples']:,} examples; {s['test']:,} test examples, "
              f"{s['held_out_combinations']:,} combinations held out")
    print(f"{dataset.name}: {len(graph):,} examples, {graph.num_attributes} attributes, "
          f"{graph.num_edges:,} edges (graph and admissibility in {elapsed:.2f} s)")
    present, possible = report["combinations"]["present"], report["combinations"]["possible"]
    print(f"label combinations: {present:,} of {possible:,} possible present "
          f"({100 * present / max(possible, 1):.1f}%)")
    print("coverage (known / total): " + ", ".join(
        f"{n} {k:,}/{total:,} ({100 * k / max(total, 1):.0f}%)"
        for n, (k, total) in graph.coverage().items()))
    print(admissibility.summary())
    if dataset.schema.free is not None:
        free = dataset.schema.free
        print(f"unlabelled block {free.name!r} ({free.latent} dims): no label names it, so "
              "it is in the latent partition and not in the graph")
    if "export" in report:
        e = report["export"]
        print(f"wrote {e['path']}: {e['nodes']:,} nodes, {e['edges']:,} edges")


def _run(args: argparse.Namespace) -> int:
    if args.nodes is not None and args.export is None:
        raise ConfigError("--nodes selects the subset for --export; give --export FILE.graphml")
    if args.split_option and args.split is None:
        raise ConfigError("--split-option applies to a --split")
    attributes = None if args.attributes is None else [
        a.strip() for a in args.attributes.split(",") if a.strip()]
    full, dataset, split, graph, seconds = _load_graph(args, attributes)
    started = time.perf_counter()
    admissibility = graph.admissibility()
    elapsed = seconds + time.perf_counter() - started
    present = len(np.unique(dataset.labels, axis=0)) if len(dataset) else 0
    report: dict[str, Any] = {
        "source": args.source, "name": dataset.name, "size": len(graph),
        "attributes": {n: int(k) for n, k in zip(graph.names, graph.cardinalities)},
        "combinations": {"present": present,
                         "possible": math.prod(int(k) for k in graph.cardinalities)},
        "coverage": {n: {"known": k, "total": total}
                     for n, (k, total) in graph.coverage().items()},
        "edges": graph.edge_counts(), "total_edges": graph.num_edges,
        "admissibility": admissibility.to_dict(), "seconds": round(elapsed, 3),
        "free": None if dataset.schema.free is None else dataset.schema.free.model_dump()}
    if split is not None:
        report["split"] = {"name": args.split, "seed": args.seed,
                           "description": split.description, "examples": len(full),
                           "train": len(split.train), "test": len(split.test),
                           "held_out_combinations": len(split.held_out)}
    if args.export:
        report["export"] = _export(args, graph)
    if args.json:
        print(json.dumps(report, indent=2, default=str))
    else:
        _print_report(report, dataset, graph, admissibility, elapsed)
    return 0


@hookimpl
def register_commands(register):
    register("graph", Command("the multigraph of a dataset: size, edges per attribute, "
                              "admissibility; GraphML export of a subset", _configure, _run,
                              description=__doc__.strip().splitlines()[0]))
