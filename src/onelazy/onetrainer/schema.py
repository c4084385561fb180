"""JSON Schema of OneTrainer's files, generated from the models, for editors.

``json_schema("train")`` describes a training config (every object may carry ``"__version"``);
``"concepts"`` and ``"samples"`` describe the list files; ``"secrets"`` describes secrets.json.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from onelazy._files import atomic_write_text
from onelazy.errors import UsageError
from onelazy.onetrainer import CONFIG_VERSION
from onelazy.onetrainer.models import (
    ConceptConfig,
    OneTrainerConfig,
    SampleConfig,
    SecretsConfig,
    TrainConfig,
)

SCHEMA_KINDS: dict[str, tuple[type[OneTrainerConfig], bool]] = {
    "train": (TrainConfig, False),
    "concepts": (ConceptConfig, True),
    "samples": (SampleConfig, True),
    "secrets": (SecretsConfig, False),
}


def _add_version(node: Any) -> None:
    """Allow the ``"__version"`` key OneTrainer writes into every config object."""
    if isinstance(node, dict):
        if node.get("type") == "object" and isinstance(node.get("properties"), dict):
            node["properties"] = {"__version": {"type": "integer", "minimum": 0}, **node["properties"]}
        for value in node.values():
            _add_version(value)
    elif isinstance(node, list):
        for value in node:
            _add_version(value)


def json_schema(kind: str = "train") -> dict[str, Any]:
    """The JSON Schema (draft 2020-12) of one kind of OneTrainer file."""
    if kind not in SCHEMA_KINDS:
        raise UsageError(f"unknown schema kind {kind!r}; allowed: {', '.join(SCHEMA_KINDS)}")
    model, is_list = SCHEMA_KINDS[kind]
    schema = model.model_json_schema()
    _add_version(schema)
    if is_list:
        defs = schema.pop("$defs", {})
        item = dict(schema)
        schema = {
            "type": "array",
            "items": {"$ref": f"#/$defs/{model.__name__}"},
            "$defs": {**defs, model.__name__: item},
        }
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        **schema,
        "title": f"OneTrainer {kind} file (config version {CONFIG_VERSION})",
    }


def write_json_schema(path: str | os.PathLike[str] | None, kind: str = "train") -> str:
    """The schema as JSON text; written atomically to ``path`` when given."""
    text = json.dumps(json_schema(kind), indent=2) + "\n"
    if path is not None:
        atomic_write_text(Path(path), text)
    return text
