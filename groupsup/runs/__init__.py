"""The evaluation pipeline, above training: a trained run in, an evaluation folder out.

:func:`evaluate_run` builds an :class:`EvalContext` (model, dataset, split, judge, seeded
generator, output folder, options) and runs the registered evaluation steps on it in order
(``register_evaluations``); :mod:`groupsup.runs.report` writes ``report.md`` and
``report.html``; :mod:`groupsup.runs.zeroshot` assembles zero-shot syntheses;
:mod:`groupsup.runs.during` is the ``evaluate`` training callback. The metrics the steps
compute are pure functions of arrays in :mod:`groupsup.evaluate`.
"""
