"""Attribute: one attribute of a dataset, as declared in a schema class.

Its value vocabulary (in code order, or ``None`` to discover it from the labels) and the width
of its latent block. A :class:`~groupsup.Schema` is an ordered set of attributes.
"""

from __future__ import annotations

import re

from pydantic import BaseModel, ConfigDict, Field, field_validator

from groupsup.errors import SchemaError

Value = str | int
NAME_PATTERN = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


class Attribute(BaseModel):
    """One attribute of a dataset: its vocabulary (or ``None`` = discover) and latent width."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    latent: int = Field(gt=0, description="width of this attribute's latent block")
    values: tuple[Value, ...] | None = Field(
        default=None, description="the value vocabulary in code order; None: discover from labels"
    )
    description: str = ""
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

    @field_validator("name")
    @classmethod
    def _identifier(cls, name: str | None) -> str | None:
        if name is not None and not NAME_PATTERN.match(name):
            raise ValueError(f"attribute name {name!r} must be a Python identifier")
        return name

    @property
    def resolved(self) -> bool:
        return self.values is not None

    @property
    def cardinality(self) -> int:
        if self.values is None:
            raise SchemaError(f"attribute {self.name!r} has no vocabulary yet; resolve the schema")
        return len(self.values)

    def code_of(self) -> dict[Value, int]:
        """Map value -> integer code (its position in the vocabulary)."""
        return {v: i for i, v in enumerate(self.values or ())}
