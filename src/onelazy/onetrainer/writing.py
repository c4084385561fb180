"""Writing configs the way OneTrainer's ``to_dict`` does, atomically.

Shape rules: every config object (including nested ones and each list entry) starts with its own
``"__version"``; keys follow the class's key order; enums are written by name; infinite floats are
the strings ``"inf"``/``"-inf"``; nullable keys are ``null`` when unset.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Sequence
from enum import Enum
from pathlib import Path
from typing import TYPE_CHECKING, Any

from onelazy._files import atomic_write_text

if TYPE_CHECKING:
    from onelazy.onetrainer.models import OneTrainerConfig


def _plain(value: Any) -> Any:
    from onelazy.onetrainer.models import OneTrainerConfig

    if isinstance(value, OneTrainerConfig):
        return to_onetrainer_dict(value)
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, float) and math.isinf(value):
        return "inf" if value > 0 else "-inf"
    if isinstance(value, list):
        return [_plain(item) for item in value]
    if isinstance(value, dict):
        return {key: _plain(item) for key, item in value.items()}
    return value


def to_onetrainer_dict(model: OneTrainerConfig) -> dict[str, Any]:
    """``model`` as the dict OneTrainer's ``to_dict`` writes (``__version`` first, enums by name)."""
    out: dict[str, Any] = {"__version": model.onetrainer_version}
    for name in type(model).model_fields:
        out[name] = _plain(getattr(model, name))
    return out


def to_onetrainer_json(model_or_list: OneTrainerConfig | Sequence[OneTrainerConfig]) -> str:
    """The JSON text onelazy writes for a config, or for a concepts/samples list (4-space indent)."""
    if isinstance(model_or_list, Sequence):
        value: Any = [to_onetrainer_dict(item) for item in model_or_list]
    else:
        value = to_onetrainer_dict(model_or_list)
    return json.dumps(value, indent=4, ensure_ascii=False) + "\n"


def write_onetrainer_json(
    path: str | os.PathLike[str],
    model_or_list: OneTrainerConfig | Sequence[OneTrainerConfig],
    *,
    mode: int | None = None,
) -> Path:
    """Write a config (or a concepts/samples list) atomically; ``mode=0o600`` for secrets files."""
    return atomic_write_text(path, to_onetrainer_json(model_or_list), mode=mode)
