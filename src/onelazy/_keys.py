"""What to say about a key a strict settings model does not know: the keys it does, a likely one.

``onelazy.yaml`` and the ``generate:`` section are read by models that forbid unknown keys; pydantic
only says "extra inputs are not permitted". A person who wrote ``cfgg`` or put ``train_device`` at
the top level needs the right name and where it belongs.
"""

from __future__ import annotations

import difflib
import types
import typing
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel

if TYPE_CHECKING:
    from pydantic_core import ErrorDetails


def _models_in(annotation: Any) -> list[type[BaseModel]]:
    """The model classes an annotation holds (``X | None``, ``list[X]``, ``X``)."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [annotation]
    origin = typing.get_origin(annotation)
    if origin in (typing.Union, types.UnionType, list, tuple, dict):
        return [model for arg in typing.get_args(annotation) for model in _models_in(arg)]
    return []


def _owner(root: type[BaseModel], path: Sequence[Any]) -> type[BaseModel] | None:
    """The model whose keys are at ``path`` (list indexes are stepped over)."""
    current: type[BaseModel] | None = root
    for part in path:
        if current is None:
            return None
        if isinstance(part, int):
            continue
        field = current.model_fields.get(str(part))
        models = _models_in(field.annotation) if field is not None else []
        current = models[0] if models else None
    return current


def unknown_key_message(root: type[BaseModel], loc: Sequence[Any]) -> str:
    """``unknown key; did you mean 'cfg'?`` (or where the key belongs, or the keys allowed there)."""
    if not loc:
        return "unknown key"
    owner = _owner(root, loc[:-1])
    if owner is None:
        return "unknown key"
    name = str(loc[-1])
    allowed = [key for key in owner.model_fields if not key.startswith("_")]
    close = difflib.get_close_matches(name, allowed, n=1, cutoff=0.75)
    if close:
        return f"unknown key; did you mean {close[0]!r}?"
    for key, field in owner.model_fields.items():
        for model in _models_in(field.annotation):
            if name in model.model_fields:
                return f"unknown key here; it belongs under {key}:"
    return f"unknown key; allowed: {', '.join(allowed)}"


def first_error(errors: Sequence[ErrorDetails]) -> ErrorDetails:
    """The validation error to report: pydantic lists ``name: required, but missing`` before the
    unknown key beside it that is most likely its misspelling (``nmae:``), whose message says "did
    you mean 'name'"; report that one first."""
    first = errors[0]
    if first["type"] == "missing":
        for error in errors:
            if error["type"] == "extra_forbidden" and tuple(error["loc"][:-1]) == tuple(first["loc"][:-1]):
                return error
    return first
