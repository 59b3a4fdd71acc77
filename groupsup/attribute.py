"""Attribute: one attribute of a dataset, as declared in a schema class.

Its value vocabulary (in code order, or ``None`` to discover it from the labels), the width
of its latent block, and the token that marks an unknown value in label records. A
:class:`~groupsup.Schema` is an ordered set of attributes.
"""

from __future__ import annotations

import re

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from groupsup.errors import SchemaError

Value = str | int
NAME_PATTERN = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def identifier(name: str | None, what: str) -> str | None:
    """*name* unchanged, or a ValueError when it is not a Python identifier (``None`` passes:
    a schema class sets it from the class attribute's name)."""
    if name is not None and not NAME_PATTERN.match(name):
        raise ValueError(f"{what} {name!r} must be a Python identifier")
    return name


class Attribute(BaseModel):
    """One attribute of a dataset: its vocabulary (or ``None`` = discover) and latent width."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    latent: int = Field(gt=0, description="width of this attribute's latent block")
    values: tuple[Value, ...] | None = Field(
        default=None, description="the value vocabulary in code order; None: discover from labels"
    )
    description: str = ""
    missing: Value | None = Field(
        default=None, description="a label value that means 'unknown' (e.g. '?'); None, NaN "
        "and an empty string always do")
    name: str | None = Field(default=None, description="set from the class attribute's name")

    @field_validator("values")
    @classmethod
    def _vocabulary(cls, values: tuple[Value, ...] | None) -> tuple[Value, ...] | None:
        if values is None:
            return None
        if len(values) == 0:
            raise ValueError("vocabulary is empty; give values or leave it None to discover them")
        seen: set[Value] = set()
        for value in values:
            if value in seen:
                raise ValueError(f"value {value!r} appears more than once in the vocabulary")
            seen.add(value)
        return tuple(values)

    @model_validator(mode="after")
    def _missing_not_a_value(self) -> Attribute:
        if self.missing is not None and self.values is not None and self.missing in self.values:
            raise ValueError(f"missing token {self.missing!r} is also a value of the vocabulary")
        return self

    _identifier = field_validator("name")(
        classmethod(lambda cls, name: identifier(name, "attribute name")))

    @property
    def has_values(self) -> bool:
        """Whether the vocabulary is known (declared, or discovered from records)."""
        return self.values is not None

    @property
    def cardinality(self) -> int:
        if self.values is None:
            raise SchemaError(f"attribute {self.name!r} has no vocabulary yet; resolve the schema")
        return len(self.values)

    def is_missing(self, value: object) -> bool:
        """Whether a label *value* means "unknown": None, a float NaN, an empty (or blank)
        string, or this attribute's declared ``missing`` token."""
        if value is None or (isinstance(value, float) and value != value):
            return True
        if isinstance(value, str) and not value.strip():
            return True
        return self.missing is not None and value == self.missing

    def code_of(self) -> dict[Value, int]:
        """Map value -> integer code (its position in the vocabulary)."""
        return {v: i for i, v in enumerate(self.values or ())}


class Free(BaseModel):
    """The unlabelled block: latent width for the variation no label names (a writer's
    slant, an object's pose, lighting). At most one per schema, declared like an attribute::

        class Digits(gs.Schema):
            digit = gs.Attribute(latent=32)
            style = gs.Free(latent=8)

    It has no values and no label column. Every group term decodes an image with that image's
    own unlabelled block, so a target's unnamed variation has a home and no provider must
    guess it; synthesis takes it from an image of your choice.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    latent: int = Field(gt=0, description="width of the unlabelled latent block")
    description: str = ""
    name: str | None = Field(default=None, description="set from the class attribute's name")

    _identifier = field_validator("name")(
        classmethod(lambda cls, name: identifier(name, "unlabelled block name")))
