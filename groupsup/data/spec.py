"""DatasetSpec: how a dataset plugin describes a dataset to the host."""

from __future__ import annotations

import types
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Annotated, Any, Literal, Union, get_args, get_origin

from pydantic import BaseModel
from pydantic_core import PydanticSerializationError, PydanticUndefined, to_jsonable_python

if TYPE_CHECKING:
    from groupsup.data.dataset import GroupDataset
    from groupsup.schema import Schema


@dataclass(frozen=True)
class DatasetSpec:
    """What ``register_datasets`` registers.

    ``load(options)`` builds a :class:`GroupDataset` from a validated ``options`` model (an
    instance of ``options_model``; the trainer builds it from the config's ``dataset.options``).
    ``expects`` says, in one line, where and in which layout the data must be.
    ``splits`` maps a split name (e.g. ``"protocol"``) to ``make(dataset, seed) -> Split``:
    ready zero-shot splits the dataset offers besides the generic ones.
    A measure of the syntheses only this dataset can define (e.g. Fonts' colour artefacts)
    registers through ``register_evaluations`` (:class:`groupsup.SynthesisMeasure` with
    ``datasets=``).
    """

    schema: type[Schema] | None  # None: the schema comes with the data (e.g. a store)
    load: Callable[[Any], GroupDataset]
    options_model: type[BaseModel]
    expects: str
    description: str = ""
    splits: dict[str, Callable[[GroupDataset, int], Any]] = field(default_factory=dict)

    def build(self, options: dict[str, Any] | None = None) -> GroupDataset:
        from groupsup.validation import validate

        return self.load(validate(self.options_model, options or {}, "dataset options"))

    def options(self) -> list[dict[str, Any]]:
        """The options a config may give: :func:`describe_options` of :attr:`options_model`."""
        return describe_options(self.options_model)


def type_name(annotation: Any) -> str:
    """A readable type: ``str | None``, ``dict[str, int]``, ``'file' | 'generate'``, ``Path``."""
    if annotation is None or annotation is type(None):
        return "None"
    origin, args = get_origin(annotation), get_args(annotation)
    if origin in (Union, types.UnionType):
        return " | ".join(type_name(a) for a in args)
    if origin is Literal:
        return " | ".join(repr(a) for a in args)
    if origin is Annotated:
        return type_name(args[0])
    if origin is not None:
        name = getattr(origin, "__name__", str(origin))
        return f"{name}[{', '.join('...' if a is Ellipsis else type_name(a) for a in args)}]"
    if isinstance(annotation, type):
        return annotation.__name__
    return str(annotation).replace("typing.", "")


_BOUNDS = (("gt", ">"), ("ge", ">="), ("lt", "<"), ("le", "<="), ("min_length", "length >="),
           ("max_length", "length <="))


def describe_options(model: type[BaseModel]) -> list[dict[str, Any]]:
    """One row per field of a pydantic options model, in declaration order.

    Each row: ``name``, ``type`` (readable, with bounds such as ``int, >= 1``), ``required``,
    ``default`` (the value as a config would spell it, JSON-ready; ``None`` when required) and
    ``description`` (the field's ``description=``, or ``""``).
    """
    rows = []
    for name, info in model.model_fields.items():
        bounds = [f"{sign} {getattr(m, key)}" for m in info.metadata for key, sign in _BOUNDS
                  if getattr(m, key, None) is not None]
        required = info.is_required()
        if required:
            default = None
        elif info.default_factory is not None:
            default = info.default_factory()  # type: ignore[call-arg]
        else:
            default = None if info.default is PydanticUndefined else info.default
        try:  # Path -> str, models -> dicts: the value as a config file would spell it
            default = to_jsonable_python(default)
        except PydanticSerializationError:
            default = repr(default)
        rows.append({"name": info.alias or name,
                     "type": ", ".join([type_name(info.annotation), *bounds]),
                     "required": required, "default": default,
                     "description": info.description or ""})
    return rows
