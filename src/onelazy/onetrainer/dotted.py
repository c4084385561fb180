"""``--set optimizer.d_coef=2``: dotted keys checked against the models and raw strings typed by them.

:func:`coerce_dotted` turns the raw string into the value OneTrainer's JSON needs for that key
(bools from true/false/yes/no/on/off/1/0, numbers, enum names, ``null`` for nullable keys, JSON
for lists and objects such as ``samples=[]``), with a ConfigError naming the key, the allowed
values and a "did you mean" for unknown keys. :func:`apply_dotted` puts a value into a nested
dict (creating the objects on the way), ready for :func:`~onelazy.onetrainer.load_train_config`.
"""

from __future__ import annotations

import json
import math
import typing
from enum import Enum
from typing import Any

from pydantic import BaseModel

from onelazy.errors import ConfigError
from onelazy.onetrainer.models import TrainConfig
from onelazy.onetrainer.problems import did_you_mean, did_you_mean_hint
from onelazy.onetrainer.reading import enum_noun, unwrap_annotation

_TRUE = frozenset({"true", "1", "yes", "on"})
_FALSE = frozenset({"false", "0", "no", "off"})
_NULL = frozenset({"null", "none"})


def parse_assignment(text: str) -> tuple[str, str]:
    """``"optimizer.d_coef=2"`` → ``("optimizer.d_coef", "2")``: split at the first ``=``, both sides
    stripped. The one reader of a ``--set KEY=VALUE``."""
    key, sep, raw = text.partition("=")
    key = key.strip()
    if not sep or not key:
        raise ConfigError(f"{text!r} is not KEY=VALUE", key="--set", hint="e.g. --set optimizer.d_coef=2")
    return key, raw.strip()


def _leaf_annotation(key: str, model: type[BaseModel]) -> Any:
    """The annotation of the dotted ``key`` in ``model``; ConfigError with a did-you-mean if unknown."""
    current: Any = model
    walked: list[str] = []
    parts = key.split(".")
    for index, part in enumerate(parts):
        inner, _ = unwrap_annotation(current)
        origin = typing.get_origin(inner)
        if isinstance(inner, type) and issubclass(inner, BaseModel):
            if part not in inner.model_fields:
                fields = tuple(inner.model_fields)
                raise ConfigError(
                    f"not a {inner.__name__} key",
                    key=".".join([*walked, part]),
                    allowed=fields,
                    hint=did_you_mean_hint(part, fields) or "onelazy schema lists the keys",
                )
            current = inner.model_fields[part].annotation
        elif origin is dict and index > 0:
            current = typing.get_args(inner)[-1]
        else:
            flat = did_you_mean("_".join(parts), model.model_fields)
            raise ConfigError(
                f"{'.'.join(walked)} is not an object, so {part!r} cannot be set inside it",
                key=key,
                hint=f"did you mean {flat!r}?" if flat else "set the whole value (JSON for lists)",
            )
        walked.append(part)
    return current


def coerce_dotted(key: str, raw: str, *, model: type[BaseModel] = TrainConfig) -> Any:
    """The raw ``--set`` string for ``key`` as the JSON value OneTrainer expects (enum names, "inf")."""
    annotation = _leaf_annotation(key, model)
    inner, nullable = unwrap_annotation(annotation)
    text = raw.strip()
    if nullable and text.lower() in _NULL:
        return None
    if isinstance(inner, type) and issubclass(inner, Enum):
        names = tuple(member.value for member in inner)
        if text in names:
            return text
        raise ConfigError(
            f"{text!r} is not {enum_noun(inner)}",
            key=key,
            allowed=names,
            hint=did_you_mean_hint(text, names) or "allowed: " + ", ".join(names),
        )
    if typing.get_origin(inner) is typing.Literal:
        values = tuple(str(value) for value in typing.get_args(inner))
        if text in values:
            return text
        raise ConfigError(
            f"{text!r} is not allowed", key=key, allowed=values, hint="allowed: " + ", ".join(values)
        )
    if inner is bool:
        if text.lower() in _TRUE:
            return True
        if text.lower() in _FALSE:
            return False
        raise ConfigError(f"{text!r} is not true or false", key=key, allowed=("true", "false"))
    if inner is int:
        try:
            return int(text)
        except ValueError:
            raise ConfigError(f"{text!r} is not a whole number", key=key) from None
    if inner is float:
        try:
            number = float(text)
        except ValueError:
            raise ConfigError(f"{text!r} is not a number", key=key) from None
        if math.isinf(number):
            return "inf" if number > 0 else "-inf"
        if math.isnan(number):
            raise ConfigError("NaN is not allowed", key=key)
        return number
    if inner is str:
        return raw
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        raise ConfigError(
            f"{text!r} is not JSON; this key takes a list or an object", key=key, hint="e.g. --set samples=[]"
        ) from None


def apply_dotted(data: dict[str, Any], key: str, value: Any) -> None:
    """Set ``data[a][b][c] = value`` for ``key`` ``"a.b.c"``, creating the objects on the way."""
    parts = key.split(".")
    target = data
    for index, part in enumerate(parts[:-1]):
        child = target.setdefault(part, {})
        if not isinstance(child, dict):
            raise ConfigError(
                f"is {json.dumps(child)}, not an object, so {parts[index + 1]!r} cannot be set inside it",
                key=".".join(parts[: index + 1]),
            )
        target = child
    target[parts[-1]] = value
