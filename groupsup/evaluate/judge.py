"""The judge of an evaluation: an attribute classifier trained on real labelled images, with
its accuracy measured on real images it did not train on, and unreliable attributes flagged.

Swap accuracy and leakage are only as good as the classifier that reads the syntheses. A judge
trained on the training split of a zero-shot split learns that split's bias (the held-out
combinations are missing by construction) and misreads real images of exactly the
combinations the evaluation synthesises. So by default the judge learns from **every real
labelled image** of the dataset, the real images of held-out combinations included: they are
ground truth, not model output, and the judge is not the model under test.

- ``data="all"`` (default): the pool is the whole dataset; ``"train"``: only the run's
  training split (the judge is then scored on the real held-out images, which shows its bias);
  a separate labelled :class:`~groupsup.GroupDataset` (``judge_set``) replaces the pool.
- ``folds=1``: a random ``holdout`` fraction of the pool is kept out; the judge trains on the
  rest and is scored on it. ``folds=k >= 2``: k-fold cross-validation scores the pool
  out-of-fold (k trainings), then the judge trains once more on the whole pool.
- An attribute is **unreliable** when its real-image accuracy is below
  :data:`MIN_ACCURACY` or within :data:`CHANCE_MARGIN` of chance (the majority-class rate of
  the scored rows); every swap or leakage number of that attribute is flagged.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from groupsup.data import GroupDataset
from groupsup.errors import ConfigError, DataError
from groupsup.evaluate.arrays import chance_level, json_array
from groupsup.evaluate.classifier import AttributeClassifier, ClassifierFit, train_classifier

MIN_ACCURACY = 0.9
CHANCE_MARGIN = 0.1
JUDGE_DATA = ("all", "train")


@dataclass
class Judge(ClassifierFit):
    """A trained judge and how well it reads real images it did not train on.

    ``accuracy``, ``chance`` ``(A,)``: on the scored real images; ``held_out_accuracy``
    ``(A,)`` or ``None``: on those of them that belong to the run's held-out combinations;
    ``seconds``: the time its trainings took.
    """

    held_out_accuracy: np.ndarray | None = None
    seconds: float = 0.0

    @property
    def unreliable(self) -> list[str]:
        """Attributes read below :data:`MIN_ACCURACY` or within :data:`CHANCE_MARGIN` of
        chance."""
        bad = (self.accuracy < MIN_ACCURACY) | (self.accuracy < self.chance + CHANCE_MARGIN)
        return [a for a, b in zip(self.attributes, bad) if b]

    def to_dict(self) -> dict[str, Any]:
        held_out = self.held_out_accuracy
        return self.accuracy_record(
            "judge_accuracy", "mean_accuracy", chance=json_array(self.chance),
            held_out_accuracy=None if held_out is None else json_array(held_out),
            unreliable=self.unreliable,
            rule=f"unreliable when real-image accuracy < {MIN_ACCURACY} or < chance + "
                 f"{CHANCE_MARGIN}")


def _predict(classifier: AttributeClassifier, data: GroupDataset, rows: np.ndarray
             ) -> np.ndarray:
    """``(len(rows), A)`` predicted codes of real images, loaded in batches."""
    return np.concatenate([classifier.predict(data.load(rows[i:i + 512]))
                           for i in range(0, len(rows), 512)])


def fit_judge(data: GroupDataset, *, train: np.ndarray, test: np.ndarray | None,
              judge_data: str = "all", judge_set: GroupDataset | None = None, folds: int = 1,
              holdout: float = 0.2, steps: int = 1500, time_budget: float | None = None,
              seed: int = 0, device: str = "cpu") -> Judge:
    """Train and score the judge of an evaluation of *data* (see the module docstring).

    ``train``, ``test``: the run's split (example ids of *data*; ``test`` may be ``None``).
    ``time_budget`` bounds each training in seconds; a training cut short is recorded in
    ``config["budget_hit"]`` (the numbers then depend on the machine's speed).
    """
    _check_options(judge_data, folds, holdout)
    rng = np.random.default_rng(seed)
    held = set() if test is None else set(test.tolist())
    source, pool_name, pool = data, judge_data, (np.arange(len(data)) if judge_data == "all"
                                                 else np.asarray(train, dtype=np.int64))
    if judge_set is not None:
        _check_same_schema(data, judge_set)
        source, pool_name, held = judge_set, f"judge set {judge_set.name!r}", set()
        pool = np.arange(len(judge_set))
    fitting = _Fitting(source, pool, pool_name, rng, {
        "cardinalities": data.schema.cardinalities, "steps": steps,
        "time_budget": time_budget, "device": device})
    if judge_data == "train" and judge_set is None and test is not None and len(test):
        # the training split's judge, scored on the real held-out images: shows its bias
        scored, predicted, classifier = fitting.on_split(test)
    elif folds == 1:
        scored, predicted, classifier = fitting.holding_out(holdout)
    else:
        scored, predicted, classifier = fitting.cross_validated(folds)
    fits = fitting.fits
    truth = source.labels[scored]
    hits = predicted == truth
    on_held = np.array([i in held for i in scored.tolist()], dtype=bool)
    config = {"data": pool_name, "folds": folds, "holdout": holdout if folds == 1 else None,
              "pool": len(pool), "scored": len(scored), "steps": steps,
              "time_budget": time_budget, "trainings": len(fits),
              "budget_hit": any(f.config["steps"] < f.config["planned_steps"] for f in fits),
              "classifier": {k: v for k, v in fits[-1].config.items() if k != "seconds"}}
    classifier.eval()
    return Judge(classifier, hits.mean(axis=0), chance_level(truth), config,
                 held_out_accuracy=hits[on_held].mean(axis=0) if on_held.any() else None,
                 seconds=sum(f.config["seconds"] for f in fits))


def _check_options(judge_data: str, folds: int, holdout: float) -> None:
    if judge_data not in JUDGE_DATA:
        raise ConfigError(f"judge data {judge_data!r}: expected one of {list(JUDGE_DATA)}")
    if folds < 1:
        raise ConfigError(f"judge folds must be at least 1, got {folds}")
    if not 0.0 < holdout < 1.0:
        raise ConfigError(f"judge holdout must lie in (0, 1), got {holdout}")


# what each way of fitting returns: the scored rows, their predicted codes, the judge
Scored = tuple[np.ndarray, np.ndarray, AttributeClassifier]


@dataclass
class _Fitting:
    """The trainings of one judge on *pool* (ids of *source*), each seeded by the next draw of
    *rng*; ``fits`` collects them in order."""

    source: GroupDataset
    pool: np.ndarray
    pool_name: str
    rng: np.random.Generator
    options: dict[str, Any]
    fits: list[ClassifierFit] = field(default_factory=list)

    def fit(self, rows: np.ndarray, scored: np.ndarray) -> AttributeClassifier:
        fit = train_classifier(self.source, train_index=rows, test_index=scored,
                               seed=int(self.rng.integers(2**62)), **self.options)
        self.fits.append(fit)
        return fit.classifier

    def on_split(self, test: np.ndarray) -> Scored:
        """Trained on the pool (the training split), scored on the held-out *test* ids."""
        classifier = self.fit(self.pool, test)
        return test, _predict(classifier, self.source, test), classifier

    def holding_out(self, holdout: float) -> Scored:
        """Trained on the pool less a random *holdout* share, scored on that share."""
        order = self.rng.permutation(self.pool)
        n_eval = max(1, round(holdout * len(self.pool)))
        if n_eval >= len(self.pool):
            raise DataError(f"{self.pool_name}: {len(self.pool)} images are too few to hold "
                            f"out {holdout:.0%} for scoring the judge")
        scored, fit_rows = np.sort(order[:n_eval]), np.sort(order[n_eval:])
        classifier = self.fit(fit_rows, scored)
        return scored, _predict(classifier, self.source, scored), classifier

    def cross_validated(self, folds: int) -> Scored:
        """Every pool row scored out-of-fold; then the judge trained on the whole pool."""
        pool = self.pool
        if len(pool) < 2 * folds:
            raise DataError(f"{self.pool_name}: {len(pool)} images are too few for "
                            f"{folds}-fold cross-validation of the judge")
        fold = np.empty(len(pool), dtype=np.int64)
        fold[self.rng.permutation(len(pool))] = np.arange(len(pool)) % folds
        predicted = np.empty((len(pool), len(self.options["cardinalities"])), dtype=np.int64)
        for f in range(folds):
            inside = fold == f
            classifier = self.fit(pool[~inside], pool[inside])
            predicted[inside] = _predict(classifier, self.source, pool[inside])
        return pool, predicted, self.fit(pool, pool[:1])


def _check_same_schema(data: GroupDataset, other: GroupDataset) -> None:
    """A judge set must label images with the dataset's attributes and value codes."""
    for a, b in zip(data.schema.attributes, other.schema.attributes):
        if a.name != b.name or tuple(a.values or ()) != tuple(b.values or ()):
            raise DataError(f"judge set {other.name!r}: attribute {b.name!r} with values "
                            f"{list(b.values or ())[:10]} differs from the dataset's {a.name!r} "
                            f"{list(a.values or ())[:10]}; it must use the same schema")
    if len(data.schema.attributes) != len(other.schema.attributes):
        raise DataError(f"judge set {other.name!r}: attributes {list(other.schema.names)} "
                        f"differ from the dataset's {list(data.schema.names)}")
    if other.image_shape != data.image_shape:
        raise DataError(f"judge set {other.name!r}: images {other.image_shape} differ from the "
                        f"dataset's {data.image_shape}")

