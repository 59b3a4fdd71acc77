"""DatasetSpec: how a dataset plugin describes a dataset to the host."""

from __future__ import annotations

import re
import types
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import PurePosixPath
from typing import TYPE_CHECKING, Annotated, Any, Literal, Union, get_args, get_origin

from pydantic import BaseModel
from pydantic_core import PydanticSerializationError, PydanticUndefined, to_jsonable_python

from groupsup.errors import PluginError

if TYPE_CHECKING:
    from groupsup.data.dataset import GroupDataset
    from groupsup.schema import Schema


_HEX = {"sha256": 64, "md5": 32}


@dataclass(frozen=True)
class Download:
    """One public file of a dataset, as ``groupsup datasets fetch NAME`` downloads it.

    ``path`` is where the file goes, relative to the dataset's folder (the default of its
    ``root`` option, or ``--out``): a relative POSIX path such as ``"images.npz"``. ``url`` is
    an ``http(s)://`` address. ``size`` (bytes) and the lowercase hex digests ``sha256`` and
    ``md5`` are checked before the file is put in place; at least one digest is required, and
    sha256 is the one to give where it is known (md5 only where no sha256 is published).
    """

    path: str
    url: str
    size: int | None = None
    sha256: str | None = None
    md5: str | None = None

    def __post_init__(self) -> None:
        where = f"download {self.url!r}"
        relative = PurePosixPath(self.path)
        if not self.path or relative.is_absolute() or ".." in relative.parts:
            raise PluginError(f"{where}: path {self.path!r} must be a relative path inside the "
                              "dataset's folder (no leading '/', no '..')")
        if not re.match(r"https?://[^/\s]+", self.url):
            raise PluginError(f"{where}: the url must start with http:// or https://")
        if self.size is not None and (isinstance(self.size, bool) or self.size < 1):
            raise PluginError(f"{where}: size must be a positive number of bytes, "
                              f"got {self.size!r}")
        for name, length in _HEX.items():
            value = getattr(self, name)
            if value is not None and not re.fullmatch(f"[0-9a-f]{{{length}}}", value):
                raise PluginError(f"{where}: {name} must be {length} lowercase hex digits, "
                                  f"got {value!r}")
        if self.sha256 is None and self.md5 is None:
            raise PluginError(f"{where}: give its sha256 (or md5): a file that cannot be "
                              "checked is not downloaded")

    def digests(self) -> dict[str, str]:
        """The declared digests, ``{"sha256": hex, "md5": hex}`` (those given)."""
        return {name: value for name in _HEX if (value := getattr(self, name)) is not None}


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
    ``downloads`` are the public files ``groupsup datasets fetch NAME`` downloads into the
    dataset's folder (the default of its ``root`` option); ``access`` says, for data that cannot
    be downloaded (registration, a licence to accept), where to request it and how to lay it
    out: ``fetch`` prints it and downloads nothing.
    """

    schema: type[Schema] | None  # None: the schema comes with the data (e.g. a store)
    load: Callable[[Any], GroupDataset]
    options_model: type[BaseModel]
    expects: str
    description: str = ""
    splits: dict[str, Callable[[GroupDataset, int], Any]] = field(default_factory=dict)
    downloads: tuple[Download, ...] = ()
    access: str = ""

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
