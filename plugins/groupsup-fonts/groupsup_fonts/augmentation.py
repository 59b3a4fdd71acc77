"""Data augmentation by GSL synthesis on an unbalanced Fonts training set (docs/method.md §4).

Task: classify the letter and the font colour of Fonts images. The training set is unbalanced:
for every letter some font colours never occur (a cyclic pattern, so every letter and every
colour still occurs). The test set is balanced: the same number of images of every
(letter, font colour) combination, disjoint from training. Three classifiers, the same small
CNN (:func:`groupsup.evaluate.train_classifier`) with the same steps and seed, are trained on

- (a) ``real``: the unbalanced real images alone;
- (b) ``standard``: those plus as many standard-augmented copies (random shifts of up to 2 px,
  brightness and contrast scaled by up to 10%) as (c) adds;
- (c) ``gsl``: those plus GSL syntheses of the missing combinations: a training image with the
  letter (which also gives size, background colour and font) takes the font-colour block of a
  training image with the missing colour.

The GSL model is trained here on the unbalanced set only (``--gsl-budget`` seconds), so the
missing combinations are unseen by the generator too; or ``--checkpoint RUN_DIR`` uses a
trained Fonts run (its dataset config is used; the JSON records whether that run's training
split contained the combinations missing here). Prints a table and writes
``OUT/augmentation.json`` and ``OUT/augmentation.md``. ``examples/fonts/augmentation.py`` is the
command line; ``groupsup reproduce fonts`` runs it on its GZS-Net run::

    python examples/fonts/augmentation.py --quick --out runs/augmentation   # a few CPU minutes
    python examples/fonts/augmentation.py --checkpoint runs/demo/run --out runs/augmentation
    python examples/fonts/augmentation.py --seeds 3 --jobs 2 --out runs/augmentation-full

``--seeds N`` repeats the experiment with N seeds (each its own missing combinations, split,
generator and classifiers) and reports mean ± 95% confidence half-width (Student t over the
seeds) per training set, and the paired per-seed differences (gsl - real, gsl - standard,
standard - real).
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np
import torch

import groupsup as gs
from groupsup.evaluate import train_classifier
from groupsup.fileio import atomic_write_text

# a smaller Fonts for --quick: 5 letters x 3 sizes x 4 font colours x 3 backgrounds x 2 fonts
QUICK_FONTS = ["dataset.options.letters=A-E", "dataset.options.fonts=2",
               'dataset.options.font_colors=["red","yellow","green","blue"]',
               'dataset.options.back_colors=["red","green","blue"]']


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--checkpoint", type=Path, help="a trained Fonts run directory to synthesize "
                   "with (default: train GSL here on the unbalanced set)")
    p.add_argument("--quick", action="store_true", help="small dataset and budgets (CPU minutes)")
    p.add_argument("--gsl-budget", type=float, help="seconds to train GSL (default 600; 60 "
                   "with --quick)")
    p.add_argument("--classifier-steps", type=int, help="steps per classifier (default 1500; "
                   "200 with --quick)")
    p.add_argument("--missing", type=float, default=0.4,
                   help="share of font colours missing for each letter (default 0.4)")
    p.add_argument("--test-share", type=float, default=0.3,
                   help="share of each letter x font-colour combination's images (the smallest "
                        "count) held out as the balanced test set (default 0.3: 1,050 test "
                        "images of the full-size run)")
    p.add_argument("--seed", type=int, default=0, help="the (first) seed")
    p.add_argument("--seeds", type=int, default=1,
                   help="repeat with seeds seed .. seed + N - 1 (each its own split, GSL model "
                        "and classifiers, in OUT/seed-K) and report mean, std and 95%% "
                        "confidence intervals over seeds (default 1)")
    p.add_argument("--jobs", type=int, default=1,
                   help="with --seeds, run this many seeds at a time in worker processes "
                        "(default 1)")
    p.add_argument("--threads", type=int, default=1, help="torch CPU threads (default 1)")
    p.add_argument("--out", type=Path, default=Path("runs/augmentation"), help="output folder")
    args = p.parse_args(argv)
    args.gsl_budget = args.gsl_budget or (60.0 if args.quick else 600.0)
    args.classifier_steps = args.classifier_steps or (200 if args.quick else 1500)
    if not 0 < args.missing < 1:
        p.error("--missing must lie strictly between 0 and 1")
    if not 0 < args.test_share < 1:
        p.error("--test-share must lie strictly between 0 and 1")
    if args.seeds < 1 or args.jobs < 1:
        p.error(f"--seeds and --jobs must be at least 1, got {args.seeds} and {args.jobs}")
    return args


def experiment_config(args: argparse.Namespace) -> gs.ExperimentConfig:
    """The Fonts config: the checkpoint's, or the demo's (smaller with --quick)."""
    if args.checkpoint is not None:
        return gs.load_config(args.checkpoint / "config.json")
    from groupsup_fonts.demo import demo_config

    overrides = [*(QUICK_FONTS if args.quick else []), "dataset.split=none",
                 f"train.time_budget={args.gsl_budget}", f"train.out={args.out / 'gsl'}",
                 f"train.threads={args.threads}", "train.progress=false", f"seed={args.seed}"]
    return gs.load_config(demo_config(), overrides)


def missing_combinations(letters: int, colours: int, share: float,
                         rng: np.random.Generator) -> np.ndarray:
    """``(letters, colours)`` bool, True where the combination is left out of training.

    Letter i misses colours ``perm[(i + k) % colours]`` for ``k < round(share * colours)``, so
    every letter and every colour keeps at least one combination.
    """
    drop = min(colours - 1, max(1, round(share * colours)))
    perm = rng.permutation(colours)
    mask = np.zeros((letters, colours), dtype=bool)
    for i in range(letters):
        mask[i, perm[(i + np.arange(drop)) % colours]] = True
    return mask


def split(pairs: np.ndarray, missing: np.ndarray, rng: np.random.Generator,
          share: float = 0.3) -> tuple[np.ndarray, np.ndarray]:
    """``(train ids, balanced test ids)`` from ``pairs (N, 2)`` = (letter, colour) codes: the
    same number of images of every combination for testing, a *share* of the smallest
    combination's count; training keeps the rest of the combinations that are not missing."""
    combo = pairs[:, 0] * missing.shape[1] + pairs[:, 1]
    per_combo = max(1, int(np.bincount(combo, minlength=missing.size).min() * share))
    test = np.sort(np.concatenate([rng.permutation(np.flatnonzero(combo == k))[:per_combo]
                                   for k in range(missing.size)]))
    is_test = np.zeros(len(pairs), dtype=bool)
    is_test[test] = True
    return np.flatnonzero(~is_test & ~missing.ravel()[combo]), test


def shifted(images: torch.Tensor, rng: np.random.Generator) -> torch.Tensor:
    """Standard augmentation of ``(n, C, H, W)`` in [-1, 1]: a random shift of up to 2 px
    (edges replicated), brightness and contrast scaled by a factor in [0.9, 1.1]."""
    n, _, h, w = images.shape
    padded = torch.nn.functional.pad(images, (2, 2, 2, 2), mode="replicate")
    dy, dx = rng.integers(0, 5, n), rng.integers(0, 5, n)
    out = torch.stack([padded[i, :, dy[i]:dy[i] + h, dx[i]:dx[i] + w] for i in range(n)])
    gain = torch.from_numpy(rng.uniform(0.9, 1.1, (n, 1, 1, 1))).float()
    mean = out.mean(dim=(1, 2, 3), keepdim=True)
    bright = torch.from_numpy(rng.uniform(0.9, 1.1, (n, 1, 1, 1))).float()
    return (((out - mean) * gain + mean + 1) * bright - 1).clamp(-1, 1)


def gsl_model(args: argparse.Namespace, config: gs.ExperimentConfig,
              unbalanced: gs.GroupDataset) -> tuple[gs.SwapAutoencoder, dict[str, Any]]:
    """The generator: the checkpoint's model, or GSL trained here on the unbalanced set."""
    if args.checkpoint is not None:
        return gs.load_model(args.checkpoint).eval(), {"checkpoint": str(args.checkpoint)}
    result = gs.Trainer(config, dataset=unbalanced).fit()
    return gs.load_model(result.run_dir).eval(), {"trained_steps": result.step,
                                                   "train_seconds": round(result.wall_time, 1)}


def main(argv: list[str] | None = None) -> int:
    """The command line: parse *argv* (default ``sys.argv``), run the experiment."""
    args = parse_args(argv)
    if args.seeds > 1:
        run_seeds(args)
    else:
        run_experiment(args)
    return 0


# the metrics of a training set's row, in table order
ROW_METRICS = ("letter", "font_color", "both", "both_on_missing_combinations",
               "both_on_seen_combinations")
# differences between training sets reported per seed (paired: same split, same test images)
CONTRASTS = (("gsl", "real"), ("gsl", "standard"), ("standard", "real"))


def t_quantile(df: int) -> float:
    """The two-sided 95% quantile of Student's t with *df* degrees of freedom (table for
    df <= 10; within 0.01 of the exact value above)."""
    table = (12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228)
    return table[df - 1] if df <= len(table) else 1.96 + 2.5 / df


def interval(values: list[float]) -> dict[str, Any]:
    """Mean, sample std and the 95% t-interval half-width over seeds (None for one seed)."""
    v = np.asarray(values, dtype=float)
    std = float(v.std(ddof=1)) if len(v) > 1 else None
    half = t_quantile(len(v) - 1) * std / np.sqrt(len(v)) if std is not None else None
    return {"mean": float(v.mean()), "std": std, "ci95": half, "n": len(v),
            "values": [float(x) for x in v]}


def summarise_seeds(documents: list[dict[str, Any]]) -> dict[str, Any]:
    """Per training set and metric, and per contrast of :data:`CONTRASTS` (the paired
    per-seed difference), the :func:`interval` over the seeds' documents."""
    sets = list(documents[0]["results"])
    summary = {name: {m: interval([d["results"][name][m] for d in documents])
                      for m in ROW_METRICS} for name in sets}
    contrasts = {f"{a} - {b}": {m: interval([d["results"][a][m] - d["results"][b][m]
                                             for d in documents]) for m in ROW_METRICS}
                 for a, b in CONTRASTS}
    return {"sets": summary, "contrasts": contrasts}


def summary_table(summary: dict[str, Any], documents: list[dict[str, Any]]) -> str:
    """The markdown table: mean ± 95% half-width per training set and contrast."""
    def cell(stat: dict[str, Any]) -> str:
        spread = "" if stat["ci95"] is None else f" ± {stat['ci95']:.3f}"
        return f"{stat['mean']:.3f}{spread}"

    header = ["training set", "images", "letter", "font colour", "both",
              "both, missing combos", "both, seen combos"]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for name, stats in summary["sets"].items():
        images = sorted({d["results"][name]["train_images"] for d in documents})
        lines.append(f"| {name} | {'/'.join(map(str, images))} | "
                     + " | ".join(cell(stats[m]) for m in ROW_METRICS) + " |")
    for name, stats in summary["contrasts"].items():
        lines.append(f"| {name} (paired) | | "
                     + " | ".join(cell(stats[m]) for m in ROW_METRICS) + " |")
    return "\n".join(lines)


def run_seeds(args: argparse.Namespace) -> dict[str, Any]:
    """:func:`run_experiment` for seeds ``args.seed .. args.seed + args.seeds - 1`` (into
    ``OUT/seed-K``, ``args.jobs`` at a time in worker processes), then the summary over seeds
    (mean ± 95% t-interval half-width, per set and per paired contrast) in
    ``OUT/augmentation.json`` and ``augmentation.md``."""
    started = time.perf_counter()
    runs = [argparse.Namespace(**{**vars(args), "seed": args.seed + k, "seeds": 1,
                                  "out": args.out / f"seed-{args.seed + k}"})
            for k in range(args.seeds)]
    if args.jobs > 1:
        context = multiprocessing.get_context("spawn")
        with ProcessPoolExecutor(max_workers=args.jobs, mp_context=context) as pool:
            documents = list(pool.map(run_experiment, runs))
    else:
        documents = [run_experiment(r) for r in runs]
    summary = summarise_seeds(documents)
    table = summary_table(summary, documents)
    print(table)
    document = {"seeds": [r.seed for r in runs], "summary": summary, "table": table,
                "test_images": [d["test_images"] for d in documents],
                "per_seed": {str(r.seed): d["results"] for r, d in zip(runs, documents)},
                "options": {k: str(v) if isinstance(v, Path) else v
                            for k, v in vars(args).items()},
                "seconds": round(time.perf_counter() - started, 1)}
    atomic_write_text(args.out / "augmentation.json", json.dumps(document, indent=2))
    atomic_write_text(args.out / "augmentation.md",
                      "Mean ± 95% confidence half-width (Student t) over seeds "
                      f"{document['seeds']}; paired rows: per-seed differences.\n\n"
                      + table + "\n")
    print(f"wrote {args.out / 'augmentation.json'} in {document['seconds']:.0f} s")
    return document


def run_experiment(args: argparse.Namespace) -> dict[str, Any]:
    """Run the experiment :func:`parse_args` describes; write ``args.out/augmentation.json``
    and ``augmentation.md`` (the table); return what the JSON holds."""
    torch.set_num_threads(args.threads)
    started = time.perf_counter()
    rng = np.random.default_rng(args.seed)
    config = experiment_config(args)
    data = gs.build_dataset(config)
    names = list(data.schema.names)
    letter, colour = names.index("letter"), names.index("font_color")
    cards = (data.schema["letter"].cardinality, data.schema["font_color"].cardinality)
    missing = missing_combinations(*cards, args.missing, rng)
    pairs = data.labels[:, [letter, colour]]
    train, test = split(pairs, missing, rng, args.test_share)
    print(f"Fonts: {len(data)} images; {int(missing.sum())} of {missing.size} letter x "
          f"font-colour combinations missing from training; {len(train)} training images, "
          f"{len(test)} balanced test images", flush=True)

    unbalanced = data.subset(train, name="unbalanced")
    model, generator = gsl_model(args, config, unbalanced)
    # one synthesis per missing combination and "average combination count" of training
    fill = max(1, round(len(train) / (missing.size - missing.sum())))
    wanted = np.repeat(np.argwhere(missing), fill, axis=0)             # (K, 2) letter, colour
    base = np.array([rng.choice(train[pairs[train, 0] == lt]) for lt in wanted[:, 0]])
    donor = np.array([rng.choice(train[pairs[train, 1] == c]) for c in wanted[:, 1]])
    providers = np.repeat(base[:, None], len(names), axis=1)
    providers[:, colour] = donor
    synthetic = gs.synthesize(model, data, providers, "cpu")

    real_images, real_labels = data.load(train), pairs[train]
    copies = rng.integers(0, len(train), len(wanted))
    sets = {
        "real": (real_images, real_labels),
        "standard": (torch.cat([real_images, shifted(real_images[copies], rng)]),
                     np.concatenate([real_labels, real_labels[copies]])),
        "gsl": (torch.cat([real_images, synthetic]), np.concatenate([real_labels, wanted])),
    }
    test_images, test_labels = data.load(test), pairs[test]
    test_missing = missing[test_labels[:, 0], test_labels[:, 1]]
    results: dict[str, Any] = {}
    for name, (images, labels) in sets.items():
        # the balanced test images ride along as the classifier's held-out rows
        fit = train_classifier(torch.cat([images, test_images]),
                               np.concatenate([labels, test_labels]), cards,
                               names=["letter", "font_color"], steps=args.classifier_steps,
                               seed=args.seed, train_index=np.arange(len(labels)),
                               test_index=len(labels) + np.arange(len(test)))
        right = fit.classifier.predict(test_images) == test_labels
        results[name] = {
            "train_images": len(labels),
            "letter": float(right[:, 0].mean()), "font_color": float(right[:, 1].mean()),
            "both": float(right.all(1).mean()),
            "both_on_missing_combinations": float(right[test_missing].all(1).mean()),
            "both_on_seen_combinations": float(right[~test_missing].all(1).mean())}
        print(f"  {name}: {results[name]}", flush=True)

    header = ["training set", "images", "letter", "font colour", "both",
              "both, missing combos", "both, seen combos"]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for name, r in results.items():
        lines.append(f"| {name} | {r['train_images']} | {r['letter']:.3f} | "
                     f"{r['font_color']:.3f} | {r['both']:.3f} | "
                     f"{r['both_on_missing_combinations']:.3f} | "
                     f"{r['both_on_seen_combinations']:.3f} |")
    table = "\n".join(lines)
    print(table)
    if args.checkpoint is not None:
        seen = json.loads((args.checkpoint / "split.json").read_text())["train"] \
            if (args.checkpoint / "split.json").is_file() else list(range(len(data)))
        seen_pairs = pairs[np.asarray(seen)]
        generator["saw_missing_combinations"] = bool(missing[seen_pairs[:, 0],
                                                             seen_pairs[:, 1]].any())
    document = {"results": results, "generator": generator, "config": config.to_dict(),
                "missing_combinations": [[data.schema["letter"].values[i],
                                          data.schema["font_color"].values[j]]
                                         for i, j in np.argwhere(missing)],
                "options": {k: str(v) if isinstance(v, Path) else v
                            for k, v in vars(args).items()},
                "synthesised": len(wanted), "test_images": len(test), "table": table,
                "seconds": round(time.perf_counter() - started, 1)}
    atomic_write_text(args.out / "augmentation.json", json.dumps(document, indent=2))
    atomic_write_text(args.out / "augmentation.md", table + "\n")
    print(f"wrote {args.out / 'augmentation.json'} in {document['seconds']:.0f} s")
    return document
