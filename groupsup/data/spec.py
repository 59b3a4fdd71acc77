"""DatasetSpec: how a dataset plugin describes a dataset to the host."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel

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
