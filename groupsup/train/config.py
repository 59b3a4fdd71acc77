"""The experiment configuration: one pydantic model, loaded from TOML or YAML.

Every section forbids unknown keys; a misspelled key is an error that names it and suggests
the nearest valid one. ``--set key.sub=value`` overrides apply before validation.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, ValidationError, field_validator

from groupsup.errors import ConfigError
from groupsup.validation import explain

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_assignment=True)


class DatasetConfig(_Section):
    """Which registered dataset, its loader options, and the zero-shot split."""

    name: str = Field(description="a dataset registered by a plugin (`groupsup datasets`)")
    options: dict[str, Any] = Field(default_factory=dict, description="the dataset's options")
    split: str = Field(default="none", description="'none', 'random-combinations', "
                       "'held-out' (the combinations in `held_out`), 'manifest' (a folder "
                       "manifest's train/test column), or a split the dataset names (e.g. "
                       "'protocol')")
    split_options: dict[str, Any] = Field(
        default_factory=dict, description="for 'random-combinations': fraction, attributes; "
        "for 'manifest': column (default 'split')")
    held_out: list[dict[str, Any]] = Field(
        default_factory=list, description="for split 'held-out': (partial) combinations by "
        "value name, e.g. [{digit = 0, ink = 'red'}]; each holds out every matching example")


class SchemaConfig(_Section):
    latent: dict[str, int] = Field(default_factory=dict,
                                   description="latent block size overrides per attribute")
    free: int | None = Field(
        default=None, ge=0, description="width of the unlabelled block, latent room for the "
        "variation no label names (a writer's slant, a pose, lighting), decoded with each "
        "image's own in every group term; 0: none (the paper's model); unset: as the "
        "dataset's schema declares (docs/datasets.md)")
    free_name: str = Field(default="free", description="the unlabelled block's name (the key "
                           "of `synthesize --from NAME=IMAGE`)")


class ModelConfig(_Section):
    backbone: str = Field(default="conv-small", description="a registered backbone")
    options: dict[str, Any] = Field(default_factory=dict, description="the backbone's Config")
    free_warp: Literal["shift", "affine"] | None = Field(
        default=None, description="'shift': the unlabelled block only translates the decoded "
        "image, so it can hold where an image's content sits but not what it is; 'affine': "
        "it also rotates, scales and shears (it then takes a labelled size too); None: the "
        "block is one more decoder input")


class StrategyConfig(_Section):
    name: str = Field(default="centre-cover", description="a registered group strategy")
    options: dict[str, Any] = Field(default_factory=dict, description="the strategy's Config")


class LossConfig(_Section):
    recipe: str | None = Field(default="gsl", description="a registered recipe; ignored "
                               "when `terms` is given")
    terms: list[dict[str, Any]] | None = Field(
        default=None, description="explicit terms: [{term, weight, distance, options}]")
    distance: Literal["l1", "l2", "bce"] | None = Field(
        default=None, description="default distance of the image terms; None: the recipe's "
        "own (registered with it), else l1")
    reduction: Literal["mean", "per-decode"] | None = Field(
        default=None, description="'mean': weight x mean per term (the paper's formula); "
        "'per-decode': each mean times its decodes per group (the reference code's sum); "
        "None: the recipe's own (mean for `terms`)")


class OptimConfig(_Section):
    name: Literal["adam", "adamw"] = "adam"
    lr: float = Field(default=1e-3, gt=0, allow_inf_nan=False,
                      description="learning rate; 1e-3 suits conv-small (the paper's configs "
                      "set its 1e-4 for the gzsnet backbone)")
    betas: tuple[Annotated[float, Field(ge=0, lt=1, allow_inf_nan=False)],
                 Annotated[float, Field(ge=0, lt=1, allow_inf_nan=False)]] = Field(
        default=(0.9, 0.999), description="Adam's two decay rates, each in [0, 1)")
    weight_decay: float = Field(default=0.0, ge=0, allow_inf_nan=False)
    schedule: Literal["constant", "cosine", "wsd"] = Field(
        default="constant", description="'constant'; 'cosine' (from lr to 0 over the run); "
        "'wsd' (warmup-stable-decay: constant, then linear to 0 over the last "
        "decay_fraction of the run)")
    schedule_by: Literal["steps", "time"] = Field(
        default="steps", description="what the cosine or wsd schedule runs over: 'steps' "
        "(train.steps) or 'time' (the larger of the fractions of train.steps and of "
        "train.time_budget done, so the rate reaches 0 when the budget ends)")
    decay_fraction: float = Field(
        default=0.2, gt=0, le=1, allow_inf_nan=False,
        description="the wsd schedule's linear decay: this last fraction of the run")
    warmup_steps: int = Field(default=0, ge=0)
    grad_clip: float | None = Field(default=None, gt=0, allow_inf_nan=False)


class TrainConfig(_Section):
    groups_per_step: int = Field(default=4, gt=0, description="groups per optimiser step "
                                 "(global, over all processes)")
    shards: int = Field(default=1, gt=0, description="independently seeded shards a step's "
                        "groups are drawn in; must be a multiple of the process count, so a "
                        "run draws the same batches on 1 or N processes")
    steps: int = Field(default=1000, gt=0)
    time_budget: float | None = Field(default=None, gt=0, description="stop after this many "
                                      "seconds of training (checkpointing first)")
    device: str = Field(default="auto", description="'auto', 'cpu', 'cuda', 'cuda:1', 'mps'")
    amp: Literal["off", "bf16", "fp16"] = "off"
    force_amp: bool = Field(default=False, description="allow AMP on a CPU without native "
                            "support (bf16 without AMX or AVX512-BF16, or fp16): emulated there, "
                            "and much slower than fp32")
    channels_last: bool = False
    compile: bool = False
    num_workers: int = Field(default=0, ge=0)
    check_images: bool = Field(default=True, description="read every image file once before "
                               "training and list every bad one (cached by size and mtime)")
    threads: int | None = Field(default=None, gt=0, description="torch CPU threads")
    out: str = "runs/experiment"
    log_every: int = Field(default=10, gt=0)
    sample_every: int = Field(default=500, gt=0)
    checkpoint_every: int = Field(default=1000, gt=0)
    keep_checkpoints: int = Field(default=3, gt=0)
    keep_samples: int = Field(default=8, gt=0, description="sample sheets kept in RUN/samples "
                              "(the newest, the final one included)")
    tensorboard: bool = False
    callbacks: list[dict[str, Any]] = Field(
        default_factory=list, description="callbacks of the training loop, each "
        "{name = <a registered callback>, <its options>}, e.g. [{name = 'evaluate', every = 500}]")
    progress: Literal["auto", "bar", "lines", "off"] = Field(
        default="auto", description="'bar' (tqdm), 'lines' (one plain line per log_every "
        "steps, for log files), 'off' (silent), or 'auto': a bar on a terminal, else lines. "
        "true means 'auto', false 'lines' (no bar)")

    @field_validator("progress", mode="before")
    @classmethod
    def _progress_bool(cls, value: Any) -> Any:
        # configs and gs.train(progress=False) from before the modes existed: false meant
        # "no bar", so it prints plain lines; "off" is silent
        if isinstance(value, bool):
            return "auto" if value else "lines"
        return value


class ExperimentConfig(_Section):
    """Everything a training run needs; stored in every checkpoint and result file."""

    name: str = "experiment"
    seed: int = Field(default=1, ge=0, le=2**32 - 1, description="seeds the model's "
                      "initialisation, the split and the groups drawn (numpy's range)")
    dataset: DatasetConfig
    schema_: SchemaConfig = Field(default_factory=SchemaConfig, alias="schema")
    model: ModelConfig = Field(default_factory=ModelConfig)
    strategy: StrategyConfig = Field(default_factory=StrategyConfig)
    loss: LossConfig = Field(default_factory=LossConfig)
    optim: OptimConfig = Field(default_factory=OptimConfig)
    train: TrainConfig = Field(default_factory=TrainConfig)
    evaluate: dict[str, Any] = Field(
        default_factory=dict, description="defaults of `groupsup evaluate` for this run "
        "(fields of groupsup.EvalOptions, e.g. { classifier_steps = 8000 } for a dataset "
        "whose judge needs longer training to read real images reliably); flags given on the "
        "command line win")
    # installed plugins to skip, by plugin or distribution name; the CLI reads it before it
    # loads plugins (groupsup.plugins.configure_host)
    disable_plugins: list[str] = Field(default_factory=list)
    # the file it was read from; set by load_config through the validation context
    _origin: str = PrivateAttr("config")

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    def model_post_init(self, context: Any) -> None:
        if isinstance(context, dict) and isinstance(context.get("origin"), str):
            self._origin = context["origin"]

    @property
    def origin(self) -> str:
        """The file this config was read from (``"config"`` for one given as a mapping): the
        prefix of the errors that :func:`~groupsup.resolve` finds in its options."""
        return self._origin

    def to_dict(self) -> dict[str, Any]:
        out = self.model_dump(mode="json", by_alias=True)
        if not out["evaluate"]:  # a config without the table is stored as before it existed
            del out["evaluate"]
        return out


def parse_value(text: str) -> Any:
    """A ``--set`` value: JSON/TOML literal when it parses (numbers, booleans, lists), else text."""
    try:
        return tomllib.loads(f"v = {text}")["v"]
    except tomllib.TOMLDecodeError:
        pass
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return text


def apply_overrides(data: dict[str, Any], overrides: list[str]) -> dict[str, Any]:
    """Apply ``["train.steps=100", "model.options.width=32"]`` to a nested dict (copied)."""
    data = json.loads(json.dumps(data))
    for item in overrides:
        if "=" not in item:
            raise ConfigError(f"--set {item!r}: expected KEY=VALUE, e.g. train.steps=100")
        key, value = item.split("=", 1)
        parts = key.strip().split(".")
        node = data
        for part in parts[:-1]:
            child = node.setdefault(part, {})
            if not isinstance(child, dict):
                raise ConfigError(f"--set {key}: '{part}' is not a section")
            node = child
        node[parts[-1]] = parse_value(value.strip())
    return data


MAX_CONFIG_BYTES = 1 << 20  # a config is a few kB; anything near this is not one
MAX_CONFIG_DEPTH = 32  # tables within tables; the deepest real key is ~5


def read_config_file(path: str | os.PathLike) -> dict[str, Any]:
    """The mapping in a TOML, YAML or JSON config file. Refused with one line naming the file:
    a file over :data:`MAX_CONFIG_BYTES`, YAML aliases (a few hundred bytes of them expand to
    gigabytes), nesting deeper than :data:`MAX_CONFIG_DEPTH`, or a top level that is not a
    mapping. A UTF-8 byte-order mark is skipped."""
    path = Path(path)
    try:
        size = path.stat().st_size
        if size > MAX_CONFIG_BYTES:
            raise ConfigError(f"{path}: {size:,} bytes is too large for a config file (at most "
                              f"{MAX_CONFIG_BYTES:,})")
        text = path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise ConfigError(f"{path}: config file not found") from None
    except UnicodeDecodeError as err:
        raise ConfigError(f"{path}: not UTF-8 text ({err})") from None
    try:
        if path.suffix.lower() in (".yaml", ".yml"):
            data = _load_yaml(text)
        elif path.suffix.lower() == ".json":
            data = json.loads(text)
        else:
            data = tomllib.loads(text)
    except ConfigError as err:
        raise ConfigError(f"{path}: {err}") from None
    except Exception as err:
        raise ConfigError(f"{path}: cannot parse ({type(err).__name__}: {err})") from None
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: the top level must be a table/mapping")
    deep = _too_deep(data)
    if deep is not None:
        raise ConfigError(f"{path}: tables nested more than {MAX_CONFIG_DEPTH} deep (at "
                          f"{deep[:80]}{'...' if len(deep) > 80 else ''})")
    return data


def _load_yaml(text: str) -> Any:
    """``yaml.safe_load`` with aliases refused (``*name`` re-uses a node: the billion-laughs
    expansion)."""
    import yaml

    class NoAliases(yaml.SafeLoader):
        def compose_node(self, parent: Any, index: Any) -> Any:
            if self.check_event(yaml.AliasEvent):
                event = self.peek_event()
                raise ConfigError(f"YAML alias *{event.anchor} at line "
                                  f"{event.start_mark.line + 1}: aliases are not allowed in "
                                  "configs (write the value out)")
            return super().compose_node(parent, index)

    return yaml.load(text, Loader=NoAliases) or {}


def _too_deep(data: Any) -> str | None:
    """The dotted key where *data* nests deeper than :data:`MAX_CONFIG_DEPTH`, else None."""
    stack: list[tuple[Any, str, int]] = [(data, "", 0)]
    while stack:
        node, key, depth = stack.pop()
        if depth > MAX_CONFIG_DEPTH:
            return key
        items = (node.items() if isinstance(node, dict) else enumerate(node)
                 if isinstance(node, list) else ())
        stack += [(v, f"{key}.{k}" if key else str(k), depth + 1) for k, v in items]
    return None


def load_config(source: str | os.PathLike | dict[str, Any], overrides: list[str] | None = None
                ) -> ExperimentConfig:
    """Read, override and validate a config (a file path or a dict)."""
    if isinstance(source, dict):
        data, origin = source, "config"
    else:
        data, origin = read_config_file(source), str(source)
    data = apply_overrides(data, overrides or [])
    try:
        return ExperimentConfig.model_validate(data, context={"origin": origin})
    except ValidationError as err:
        raise explain(err, origin, ExperimentConfig) from None
