"""Pydantic validation errors as one-line groupsup errors: the one converter every section uses.

Each problem names where it is (a config file, ``dataset.options``, a loss term...), the key
and the value, with a did-you-mean for an unknown key::

    toy.toml: unknown key 'train.stpes' (did you mean 'train.steps'?)
    dataset.options: key 'attributes.shape' = 0: Input should be greater than 0
"""

from __future__ import annotations

import difflib
import types
import typing
from collections.abc import Mapping
from typing import Annotated, Any, Literal, TypeVar, Union

from pydantic import BaseModel, ValidationError
from pydantic.fields import FieldInfo

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
        shown, owner = _walk(model, tuple(item["loc"]))
        key = ".".join(shown) or "(root)"
        if item["type"] == "extra_forbidden":
            known = [f.alias or n for n, f in owner.model_fields.items()] if owner else []
            close = difflib.get_close_matches(shown[-1], known, n=1, cutoff=0.5)
            if close:
                hint = f" (did you mean {'.'.join((*shown[:-1], close[0]))!r}?)"
            else:
                hint = f"; valid {noun}s: {', '.join(known)}" if known else ""
            problems.append(f"unknown {noun} {key!r}{hint}")
        elif item["type"] == "missing":
            problems.append(f"{noun} {key!r} is required")
        else:
            problems.append(f"{noun} {key!r} = {item.get('input')!r}: {item['msg']}")
    return error(f"{where}: " + "; ".join(problems))


def _walk(model: type[BaseModel] | None, loc: tuple[int | str, ...]
          ) -> tuple[list[str], type[BaseModel] | None]:
    """The key of *loc* as a config spells it, and the model class holding its last part.

    A discriminated union's tag (the variant pydantic chose, e.g. the backbone's name) is a
    part of pydantic's location but no key of the config: it is left out, and the walk goes
    on in that variant.
    """
    shown: list[str] = []
    owner: type[BaseModel] | None = None
    annotation: Any = model
    for part in loc:
        current = _unwrap(annotation)
        tags = _tags(current)
        if tags is not None and isinstance(part, str) and part in tags:
            annotation = tags[part]  # the chosen variant: not a key of the config
            continue
        shown.append(str(part))
        model_class = _model_in(current)
        if model_class is not None:
            owner = model_class
            field = next((f for n, f in model_class.model_fields.items()
                          if (f.alias or n) == part), None)
            annotation = _annotated(field) if field is not None else None
        elif isinstance(part, int) and typing.get_origin(current) in (list, tuple):
            annotation = typing.get_args(current)[0]
        else:
            owner, annotation = None, None
    return shown, owner


def _annotated(field: FieldInfo) -> Any:
    """A field's annotation, carrying its discriminator (pydantic keeps it on the field)."""
    if field.discriminator is None:
        return field.annotation
    return Annotated[field.annotation, field]


def _unwrap(annotation: Any) -> Any:
    """*annotation* without ``| None``; an ``Annotated`` stays when it names a discriminator."""
    if typing.get_origin(annotation) in (Union, types.UnionType):
        rest = [a for a in typing.get_args(annotation) if a is not type(None)]
        if len(rest) == 1:
            return _unwrap(rest[0])
    return annotation


def _tags(annotation: Any) -> dict[str, Any] | None:
    """``{tag: variant}`` of a discriminated union ``Annotated[A | B, Field(discriminator=)]``
    (``None`` for any other annotation)."""
    if typing.get_origin(annotation) is not Annotated:
        return None
    union, *metadata = typing.get_args(annotation)
    key = next((m.discriminator for m in metadata
                if isinstance(getattr(m, "discriminator", None), str)), None)
    if key is None:
        return None
    tags = {}
    for variant in typing.get_args(union):
        field = variant.model_fields.get(key) if isinstance(variant, type) else None
        if field is not None and typing.get_origin(field.annotation) is Literal:
            tags.update({str(t): variant for t in typing.get_args(field.annotation)})
    return tags


def _model_in(annotation: Any) -> type[BaseModel] | None:
    """The pydantic model in an annotation such as ``Section`` or ``Section | None``."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    origin = typing.get_origin(annotation)
    if origin in (dict, Mapping, list, tuple, Annotated):
        return None  # the next location part is a key, an index or a tag, not a field
    for arg in typing.get_args(annotation):
        found = _model_in(arg)
        if found is not None:
            return found
    return None
