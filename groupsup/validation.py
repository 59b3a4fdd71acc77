"""Pydantic validation errors as one-line groupsup errors: the one converter every section uses.

Each problem names where it is (a config file, ``dataset.options``, a loss term...), the key
and the value, with a did-you-mean for an unknown key::

    toy.toml: unknown key 'train.stpes' (did you mean 'train.steps'?)
    dataset.options: key 'attributes.shape' = 0: Input should be greater than 0
"""

from __future__ import annotations

import difflib
import typing
from collections.abc import Mapping
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from groupsup.errors import ConfigError, GroupsupError

M = TypeVar("M", bound=BaseModel)


def validate(model: type[M], data: Any, where: str, noun: str = "key",
             error: type[GroupsupError] = ConfigError) -> M:
    """``model.model_validate(data)``; a failure raises *error* (see :func:`explain`)."""
    try:
        return model.model_validate(data)
    except ValidationError as err:
        raise explain(err, where, model, noun, error) from None


def explain(err: ValidationError, where: str, model: type[BaseModel] | None = None,
            noun: str = "key", error: type[GroupsupError] = ConfigError) -> GroupsupError:
    """One line for every problem in *err*, prefixed with *where*; *model* (the validated
    class) supplies the known keys for suggestions, *noun* what a key is called ("option")."""
    problems = []
    for item in err.errors():
        loc = tuple(str(p) for p in item["loc"])
        key = ".".join(loc) or "(root)"
        if item["type"] == "extra_forbidden":
            owner = _owner(model, loc)
            known = [f.alias or n for n, f in owner.model_fields.items()] if owner else []
            close = difflib.get_close_matches(loc[-1], known, n=1, cutoff=0.5)
            if close:
                hint = f" (did you mean {'.'.join((*loc[:-1], close[0]))!r}?)"
            else:
                hint = f"; valid {noun}s: {', '.join(known)}" if known else ""
            problems.append(f"unknown {noun} {key!r}{hint}")
        elif item["type"] == "missing":
            problems.append(f"{noun} {key!r} is required")
        else:
            problems.append(f"{noun} {key!r} = {item.get('input')!r}: {item['msg']}")
    return error(f"{where}: " + "; ".join(problems))


def _owner(model: type[BaseModel] | None, loc: tuple[str, ...]) -> type[BaseModel] | None:
    """The model class holding the last key of *loc* (nested sections), if it can be found."""
    for key in loc[:-1]:
        if model is None:
            return None
        field = next((f for n, f in model.model_fields.items() if (f.alias or n) == key), None)
        model = _model_in(field.annotation) if field is not None else None
    return model


def _model_in(annotation: Any) -> type[BaseModel] | None:
    """The pydantic model in an annotation such as ``Section`` or ``Section | None``."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    if typing.get_origin(annotation) in (dict, Mapping):
        return None  # the next location part is a dictionary key, not a field
    for arg in typing.get_args(annotation):
        found = _model_in(arg)
        if found is not None:
            return found
    return None
