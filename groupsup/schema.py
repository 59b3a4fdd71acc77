"""Schema classes: a dataset's attributes, their value vocabularies and latent block sizes.

A dataset is declared as a class::

    class Shapes(gs.Schema):
        shape = gs.Attribute(values=["square", "circle"], latent=8)
        color = gs.Attribute(values=["red", "green", "blue"], latent=8)
        position = gs.Attribute(latent=16)      # values discovered from the labels

Attribute order is declaration order (parents first). A schema class whose every attribute has
a vocabulary is *resolved*; :meth:`Schema.resolve` discovers missing vocabularies from label
records and returns a new, resolved schema class. Schemas round-trip through JSON without the
original class (checkpoints store them that way).

An optional unlabelled block (:class:`~groupsup.Free`, at most one) adds latent width for
variation that no attribute names; it ends the latent partition and has no label column, so
``names``, ``attributes`` and label matrices are the attributes' alone.

Unknown values: a label record may leave a value unknown (None, NaN, an empty string, or the
attribute's declared ``missing`` token). It is encoded as :data:`UNKNOWN` (-1), distinct from
every value's code, and decoded back to None.
"""

from __future__ import annotations

import copyreg
import json
import sys
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Any, ClassVar

from pydantic import ValidationError

from groupsup.attribute import Attribute, Free, Value
from groupsup.errors import LabelError, SchemaError, did_you_mean
from groupsup.labels import UNKNOWN as UNKNOWN
from groupsup.labels import LabelCodec
from groupsup.partition import LatentPartition
from groupsup.validation import explain

SCHEMA_FORMAT = "groupsup.schema/1"


def _sorted_values(values: Iterable[Value]) -> tuple[Value, ...]:
    """Deterministic vocabulary order: numbers numerically, strings lexicographically."""
    return tuple(sorted(set(values), key=lambda v: (isinstance(v, str), v)))


class _AttributeNamespace(dict):
    """Class body namespace that refuses a second Attribute under the same name."""

    def __setitem__(self, key: str, value: Any) -> None:
        if isinstance(value, (Attribute, Free)) and isinstance(self.get(key), (Attribute, Free)):
            raise SchemaError(f"attribute {key!r} is declared twice in one schema class")
        super().__setitem__(key, value)


class SchemaMeta(type):
    """Collects :class:`Attribute` declarations in order and gives schema classes properties."""

    @classmethod
    def __prepare__(mcs, name: str, bases: tuple[type, ...], **kwargs: Any) -> dict:
        return _AttributeNamespace()

    def __new__(mcs, name: str, bases: tuple[type, ...], namespace: dict, **kwargs: Any):
        inherited: dict[str, Attribute] = {}
        free: Free | None = None
        for base in bases:
            if isinstance(base, SchemaMeta):
                inherited.update({a.name: a for a in base.attributes})
                free = base.free or free
        for key, value in list(namespace.items()):
            if isinstance(value, Free):
                if free is not None and free.name != key:
                    raise SchemaError(f"schema {name} declares two unlabelled blocks, "
                                      f"{free.name!r} and {key!r}; a schema has at most one")
                if value.name is not None and value.name != key:
                    raise SchemaError(f"unlabelled block {key!r} in {name} was given "
                                      f"name={value.name!r}")
                free = value.model_copy(update={"name": key})
                continue
            if isinstance(value, Attribute):
                if value.name is not None and value.name != key:
                    raise SchemaError(f"attribute {key!r} in {name} was given name={value.name!r}")
                try:
                    inherited[key] = value.model_copy(update={"name": key})
                    Attribute.model_validate(inherited[key].model_dump())
                except ValidationError as err:
                    raise explain(err, f"attribute {key!r} in {name}", Attribute,
                                  error=SchemaError) from None
        if free is not None and free.name in inherited:
            raise SchemaError(f"schema {name}: {free.name!r} names both an attribute and the "
                              "unlabelled block")
        cls = super().__new__(mcs, name, bases, dict(namespace))
        cls._attributes = inherited
        cls._free = free
        return cls

    # Properties on the class itself: ``Fonts.attributes``, ``Fonts.partition``...
    @property
    def attributes(cls) -> tuple[Attribute, ...]:
        return tuple(cls._attributes.values())

    @property
    def names(cls) -> tuple[str, ...]:
        return tuple(cls._attributes)

    @property
    def has_values(cls) -> bool:
        """Whether every attribute's vocabulary is known."""
        return all(a.has_values for a in cls._attributes.values())

    @property
    def free(cls) -> Free | None:
        """The unlabelled block, or ``None`` (the paper's model: every block is labelled)."""
        return cls._free

    @property
    def partition(cls) -> LatentPartition:
        if not cls._attributes:
            raise SchemaError(f"schema {cls.__name__} declares no attributes")
        blocks = [(a.name, a.latent) for a in cls._attributes.values()]
        if cls._free is None:
            return LatentPartition(blocks)
        return LatentPartition([*blocks, (cls._free.name, cls._free.latent)],
                               free=cls._free.name)

    @property
    def latent_size(cls) -> int:
        free = cls._free.latent if cls._free is not None else 0
        return sum(a.latent for a in cls._attributes.values()) + free

    @property
    def cardinalities(cls) -> tuple[int, ...]:
        return tuple(a.cardinality for a in cls._attributes.values())

    def __len__(cls) -> int:
        return len(cls._attributes)

    def __iter__(cls) -> Iterator[Attribute]:
        return iter(cls._attributes.values())

    def __getitem__(cls, name: str) -> Attribute:
        try:
            return cls._attributes[name]
        except KeyError:
            raise SchemaError(
                f"schema {cls.__name__} has no attribute {name!r}"
                f"{did_you_mean(name, cls._attributes)}; attributes are {list(cls._attributes)}"
            ) from None

    def __repr__(cls) -> str:
        parts = []
        for a in cls._attributes.values():
            vocab = "?" if a.values is None else str(len(a.values))
            parts.append(f"{a.name}[{vocab}]:{a.latent}")
        if cls._free is not None:
            parts.append(f"{cls._free.name}[unlabelled]:{cls._free.latent}")
        return f"<schema {cls.__name__}: {', '.join(parts)}>"


class Schema(LabelCodec, metaclass=SchemaMeta):
    """Base class of dataset schemas. Subclass it and declare :class:`Attribute` s.

    Schema classes are used as values (``schema=Fonts``); all methods are class methods.
    """

    _attributes: ClassVar[dict[str, Attribute]] = {}
    _free: ClassVar[Free | None] = None

    def __init__(self) -> None:
        raise TypeError(f"{type(self).__name__} is a schema class: use the class itself, "
                        "not an instance")

    # ------------------------------------------------------------------ derived schemas
    @classmethod
    def define(cls, name: str, attributes: Sequence[Attribute], free: Free | None = None
               ) -> type[Schema]:
        """Create a schema class at run time from named attributes (and an unlabelled block,
        named, if *free* is given)."""
        names = [a.name for a in attributes]
        for i, n in enumerate(names):
            if n is None:
                raise SchemaError(f"attribute #{i} of schema {name!r} has no name")
            if names.count(n) > 1:
                raise SchemaError(f"attribute {n!r} appears more than once in schema {name!r}")
        if not attributes:
            raise SchemaError(f"schema {name!r} declares no attributes")
        body: dict[str, Any] = {a.name: a for a in attributes}
        if free is not None:
            if free.name is None:
                raise SchemaError(f"the unlabelled block of schema {name!r} has no name")
            if free.name in body:
                raise SchemaError(f"schema {name!r}: {free.name!r} names both an attribute and "
                                  "the unlabelled block")
            body[free.name] = free
        return SchemaMeta(name, (Schema,), body)

    @classmethod
    def with_latent(cls, **sizes: int) -> type[Schema]:
        """A copy with other latent block sizes, e.g. ``Fonts.with_latent(font=40)`` (the
        unlabelled block's too, by its name)."""
        free = cls._free
        if free is not None and free.name in sizes:
            schema = cls.with_free(sizes.pop(free.name), name=free.name)
            return schema.with_latent(**sizes) if sizes else schema
        return cls._replacing("latent", sizes)

    @classmethod
    def with_free(cls, latent: int, name: str = "free") -> type[Schema]:
        """A copy with an unlabelled block of width *latent* named *name* (replacing any it
        had); ``latent = 0`` removes it. A negative width or a name already taken by an
        attribute is a :class:`SchemaError`."""
        if isinstance(latent, bool) or not isinstance(latent, int) or latent < 0:
            raise SchemaError(f"the unlabelled block's width must be an int >= 0 (0: none), "
                              f"got {latent!r}")
        if latent == 0:
            return cls.define(cls.__name__, cls.attributes)
        try:
            free = Free(latent=latent, name=name)
        except ValidationError as err:
            raise explain(err, f"unlabelled block {name!r}", Free, error=SchemaError) from None
        return cls.define(cls.__name__, cls.attributes, free)

    @classmethod
    def with_values(cls, **values: Sequence[Value]) -> type[Schema]:
        """A copy with the given vocabularies (e.g. a subset of fonts)."""
        return cls._replacing("values", {name: tuple(v) for name, v in values.items()})

    @classmethod
    def _replacing(cls, field: str, changes: dict[str, Any]) -> type[Schema]:
        """A copy in which attribute ``name``'s *field* is ``changes[name]``, each changed
        attribute validated again (a SchemaError names it)."""
        for key in changes:
            cls[key]  # raises with a did-you-mean for unknown names
        attrs = []
        for a in cls.attributes:
            if a.name in changes:
                try:
                    a = Attribute(**{**a.model_dump(), field: changes[a.name]})
                except ValidationError as err:
                    raise explain(err, f"attribute {a.name!r}", Attribute,
                                  error=SchemaError) from None
            attrs.append(a)
        return cls.define(cls.__name__, attrs, cls._free)

    @classmethod
    def discover_values(cls, records: Any) -> type[Schema]:
        """Discover the vocabulary of every attribute declared without one, from *records*.

        Values are sorted (numbers numerically, then strings). Declared vocabularies are kept.
        Returns *cls* itself when every attribute has its values.
        """
        if cls.has_values:
            return cls
        columns = cls._columns(records)
        found = {a.name: _sorted_values(v for v in columns[a.name] if not a.is_missing(v))
                 for a in cls.attributes if not a.has_values}
        for name, vocab in found.items():
            if not vocab:
                raise LabelError(f"attribute {name!r}: no labels to discover its values from")
        return cls.with_values(**found)

    # ------------------------------------------------------------------ JSON
    @classmethod
    def to_dict(cls) -> dict[str, Any]:
        data = {
            "format": SCHEMA_FORMAT,
            "name": cls.__name__,
            "attributes": [a.model_dump(mode="json") for a in cls.attributes],
        }
        if cls._free is not None:  # absent without one: such schemas read as they always did
            data["free"] = cls._free.model_dump(mode="json")
        return data

    @classmethod
    def to_json(cls, indent: int | None = 2) -> str:
        return json.dumps(cls.to_dict(), indent=indent)

    @staticmethod
    def from_dict(data: Mapping[str, Any]) -> type[Schema]:
        if data.get("format") != SCHEMA_FORMAT:
            raise SchemaError(f"not a groupsup schema (format {data.get('format')!r}, "
                              f"expected {SCHEMA_FORMAT!r})")
        attrs = []
        for i, raw in enumerate(data.get("attributes", [])):
            try:
                attrs.append(Attribute.model_validate(raw))
            except ValidationError as err:
                name = raw.get("name") if isinstance(raw, dict) else None
                raise explain(err, f"schema attribute #{i} ({name!r})", Attribute,
                              error=SchemaError) from None
        free = None
        if data.get("free") is not None:
            try:
                free = Free.model_validate(data["free"])
            except ValidationError as err:
                raise explain(err, "the schema's unlabelled block ('free')", Free,
                              error=SchemaError) from None
        return Schema.define(str(data.get("name", "Schema")), attrs, free)

    @staticmethod
    def from_json(text: str) -> type[Schema]:
        return Schema.from_dict(json.loads(text))

    @classmethod
    def same_as(cls, other: type[Schema]) -> bool:
        """True when both declare the same attributes, vocabularies and sizes (and the same
        unlabelled block)."""
        mine, theirs = cls.to_dict(), other.to_dict()
        return (mine["attributes"] == theirs["attributes"]
                and mine.get("free") == theirs.get("free"))


def _reduce_schema(cls: SchemaMeta) -> str | tuple[Any, ...]:
    """Pickle importable schema classes by reference and run-time ones by their JSON form,
    so datasets with discovered vocabularies travel to worker processes."""
    module = sys.modules.get(cls.__module__)
    found: Any = module
    for part in cls.__qualname__.split("."):
        found = getattr(found, part, None)
    if found is cls:
        return cls.__qualname__
    return Schema.from_dict, (cls.to_dict(),)


copyreg.pickle(SchemaMeta, _reduce_schema)
