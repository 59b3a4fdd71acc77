"""``EvalOptions``: how much an evaluation measures, declared once.

The fields are the one declaration of the evaluation's options: ``groupsup evaluate`` and
``groupsup compare`` derive their flags from them (:meth:`EvalOptions.add_flags`, one
``--kebab-case`` flag per field with the field's default and description) and read them back
(:meth:`EvalOptions.from_flags`), and ``metrics.json`` records them under ``"evaluation"``.
"""

from __future__ import annotations

import argparse
import json
import types
from collections.abc import Mapping
from typing import Any, Literal, Union, get_args, get_origin

from pydantic import BaseModel, ConfigDict, Field

from groupsup.errors import ConfigError
from groupsup.evaluate.latent import DEFAULT_CODE_METRICS
from groupsup.validation import validate


class EvalOptions(BaseModel):
    """How much to evaluate; every random choice comes from ``seed``.

    ``classifier_steps`` fixes the judge's training (so the same run and seed give the same
    numbers on any machine); ``classifier_budget`` is only an upper bound, reported in
    ``metrics.json`` when hit. The judge's options are those of
    :func:`groupsup.evaluate.fit_judge`.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    max_examples: int = Field(512, gt=0, description="held-out examples to synthesise (and "
                              "training examples to reconstruct)")
    classifier_budget: float | None = Field(
        None, gt=0, description="optional upper bound in seconds on each training of the "
        "judge; reported when hit (the numbers then depend on the machine's speed)")
    classifier_steps: int = Field(1500, gt=0, description="training steps of the judge; fixes "
                                  "its numbers")
    judge_data: Literal["all", "train"] = Field(
        "all", description="the judge learns from all real images (held-out combinations "
        "included) or from the training split only")
    judge_folds: int = Field(1, ge=1, description="1: score the judge on a held-out share of "
                             "its images; K >= 2: K-fold cross-validation, then a judge "
                             "trained on all")
    judge_holdout: float = Field(0.2, gt=0, lt=1, description="the share of the judge's "
                                 "images held out to score it (with one fold)")
    leakage_examples: int = Field(256, gt=0, description="base images of the leakage matrix")
    coprediction_examples: int = Field(2000, gt=0, description="training examples encoded for "
                                       "co-prediction and the code metrics")
    code_metrics: tuple[str, ...] = Field(
        DEFAULT_CODE_METRICS, description="code metrics (registered through "
        "register_evaluations) run on the training codes, comma-separated; empty: none")
    sheet_rows: int = Field(12, ge=0, description="rows of the synthesis sheet")
    seed: int = Field(0, description="seeds every random choice of the evaluation")
    device: str = Field("cpu", description="torch device the model and the judge run on")
    extra: dict[str, Any] = Field(default_factory=dict, description="options of plugins' "
                                  "evaluation steps, as KEY=VALUE (VALUE read as JSON where "
                                  "it parses); recorded in metrics.json")

    @classmethod
    def add_flags(cls, parser: argparse.ArgumentParser) -> None:
        """Add one flag per field to *parser* (in a group "evaluation options"), each with
        the field's default; :meth:`from_flags` reads them back."""
        group = parser.add_argument_group("evaluation options")
        for name, field in cls.model_fields.items():
            default = field.get_default(call_default_factory=True)
            flag = "--" + name.replace("_", "-")
            help_text = f"{field.description} (default {_shown(default)})"
            kind, choices = _flag_type(field.annotation)
            if kind is dict:
                group.add_argument(flag, dest=name, action="append", type=_key_value,
                                   default=None, metavar="KEY=VALUE", help=help_text)
            else:  # None: not given, so a run's [evaluate] table or the default applies
                group.add_argument(flag, dest=name, type=kind, choices=choices, default=None,
                                   metavar=None if choices else _METAVARS[kind], help=help_text)

    @classmethod
    def from_flags(cls, args: argparse.Namespace) -> EvalOptions:
        """The options *args* hold (parsed with :meth:`add_flags`): only the flags given are
        set, so :meth:`over` lets them win over a run's ``[evaluate]`` table; a ConfigError
        names a flag whose value the field refuses."""
        given = {name: getattr(args, name) for name in cls.model_fields}
        values = {k: v for k, v in given.items() if v is not None and k != "extra"}
        if given["extra"]:
            values["extra"] = dict(given["extra"])
        return validate(cls, values, "evaluation options (flags)")

    def over(self, defaults: EvalOptions) -> EvalOptions:
        """These options over *defaults*: a field set here wins, one set only there comes
        from there (``extra`` merged key by key), the rest keep the fields' defaults."""
        values = defaults.model_dump(exclude_unset=True)
        mine = self.model_dump(exclude_unset=True)
        if "extra" in mine and "extra" in values:
            mine["extra"] = {**values["extra"], **mine["extra"]}
        return validate(type(self), {**values, **mine}, "evaluation options")

    @classmethod
    def from_table(cls, table: Mapping[str, Any] | None,
                   origin: str = "config") -> EvalOptions:
        """The options a config's ``[evaluate]`` table sets, the rest at their defaults; a
        ConfigError names the file and the key it refuses."""
        return validate(cls, dict(table or {}), f"{origin} [evaluate]")

    def record(self) -> dict[str, Any]:
        """The options as ``metrics.json`` records them (JSON-ready, in field order)."""
        return json.loads(self.model_dump_json())


def _shown(default: Any) -> str:
    """A field's default as ``--help`` shows it."""
    if isinstance(default, tuple):
        return ",".join(default) or "none"
    return "none" if default is None or default == {} else str(default)


def _flag_type(annotation: Any) -> tuple[Any, tuple[str, ...] | None]:
    """``(type function, choices)`` that parse a flag of a field with *annotation*."""
    origin, args = get_origin(annotation), get_args(annotation)
    if origin is Literal:
        return str, tuple(args)
    if origin in (Union, types.UnionType):  # X | None: the flag takes X
        inner = [a for a in args if a is not type(None)]
        return _flag_type(inner[0])
    if origin is tuple:
        return _names, None
    if origin is dict:
        return dict, None
    if annotation in (int, float, str):
        return annotation, None
    raise ConfigError(f"EvalOptions: no flag type for a field of type {annotation!r}")


def _names(text: str) -> tuple[str, ...]:
    """``"mig, dci"`` -> ``("mig", "dci")``."""
    return tuple(n.strip() for n in text.split(",") if n.strip())


_METAVARS: dict[Any, str] = {int: "N", float: "X", str: "VALUE", _names: "NAMES"}


def _key_value(text: str) -> tuple[str, Any]:
    key, sep, value = text.partition("=")
    if not sep or not key:
        raise argparse.ArgumentTypeError(f"expected KEY=VALUE, got {text!r}")
    try:
        return key, json.loads(value)
    except json.JSONDecodeError:
        return key, value
