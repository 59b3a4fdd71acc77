"""What ``register_evaluations`` registers: evaluation steps, synthesis measures, code metrics.

:func:`groupsup.evaluate_run` runs every registered :class:`EvaluationStep` that applies, in
``order`` (ties by name), each ``run(ctx)`` returning the entries it adds to ``metrics.json``
(an entry already there, e.g. ``"synthesis"``, is replaced in place, so a step may extend an
earlier one's). The built-in steps (:mod:`groupsup.runs.builtin`) register through the same
hook: reconstruction 10, judge 20, synthesis 30, unnamed attributes 35, synthesis measures 37,
swap accuracy 40, leakage 50, co-prediction 60, the unlabelled block 65, code metrics 70,
headline 90; a plugin's step runs at 100 unless it says otherwise.

Two ready adapters cover the common cases:

- :class:`SynthesisMeasure` wraps ``metric(synth, truth, labels, dataset) -> dict``, a measure
  of the zero-shot syntheses reported under ``synthesis.<name>`` (e.g. Fonts' colour
  artefacts), optionally only for runs of some datasets;
- :class:`CodeMetric` wraps ``metric(codes, labels, *, partition, factor_names, seed)``, a
  metric of the training codes that the ``codes`` step runs when
  ``EvalOptions.code_metrics`` names it, in that order, under ``"disentanglement"``.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from groupsup.errors import ConfigError
from groupsup.evaluate.latent import CodeMetricFunction
from groupsup.registry import Registry

if TYPE_CHECKING:
    from groupsup.runs.context import EvalContext


class EvaluationStep(ABC):
    """One step of an evaluation. ``order``: where it runs (lower first)."""

    order: float = 100.0

    def applies(self, ctx: EvalContext) -> bool:
        """Whether the step runs in this evaluation (default: always)."""
        return True

    @abstractmethod
    def run(self, ctx: EvalContext) -> dict[str, Any]:
        """Measure, write any sheets into ``ctx.out``; return the ``metrics.json`` entries."""


@dataclass(frozen=True)
class SynthesisMeasure(EvaluationStep):
    """``metric(synth, truth, labels, dataset) -> dict`` of the zero-shot syntheses (``synth``,
    ``truth``: ``(n, C, H, W)`` in [-1, 1]; ``labels``: the ``(n, A)`` requested codes),
    reported under ``synthesis.<registered name>`` (JSON-ready). *datasets*: the registered
    dataset names (of the run's config) it applies to; ``None``: every run."""

    metric: Callable[..., dict[str, Any]]
    datasets: Sequence[str] | None = None
    order: float = 37.0

    def applies(self, ctx: EvalContext) -> bool:
        return self.datasets is None or ctx.config.dataset.name in self.datasets

    def run(self, ctx: EvalContext) -> dict[str, Any]:
        synth = ctx.require(ctx.syntheses, "the syntheses", "synthesis")
        value = self.metric(synth.images, synth.truth, synth.combos, ctx.dataset)
        return {"synthesis": {**ctx.metrics["synthesis"], ctx.step: value}}


@dataclass(frozen=True)
class CodeMetric:
    """A metric of latent codes (:class:`groupsup.evaluate.CodeMetricFunction`): returns a
    result with ``to_dict()``, or ``None`` to be left out. Run by the ``codes`` step when
    ``EvalOptions.code_metrics`` names it."""

    metric: CodeMetricFunction

    def __call__(self, codes: Any, labels: Any, **kwargs: Any) -> Any:
        return self.metric(codes, labels, **kwargs)


def code_metrics(names: Sequence[str], registry: Registry[Any]) -> dict[str, CodeMetricFunction]:
    """``{name: metric}`` of the :class:`CodeMetric`\\ s *names* picks from an evaluations
    *registry*, in that order (a RegistryError names an unknown one, with suggestions)."""
    found = {}
    for name in names:
        entry = registry.get(name)
        if not isinstance(entry, CodeMetric):
            raise ConfigError(f"code_metrics names {name!r}, an evaluation step and no code "
                              "metric (gs.CodeMetric)")
        found[name] = entry.metric
    return found
