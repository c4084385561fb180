"""The few facts about a training config that launching needs.

Preflight and the output parser need paths (workspace, output, concepts, base model) and the plan
(epochs, batch size, save cadence) - not the whole config. :func:`read_config_facts` validates the
file with :mod:`onelazy.onetrainer` (strict reading plus the cross-field checks) and then takes
these values from the validated config, with OneTrainer's defaults for keys the file leaves out.
"""

from __future__ import annotations

import importlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from onelazy.errors import ConfigError


@dataclass(frozen=True)
class ConceptFacts:
    """One concept: its folder and how many samples per epoch it contributes."""

    name: str
    path: str
    enabled: bool
    include_subdirectories: bool
    balancing: float
    balancing_strategy: str


@dataclass(frozen=True)
class ConfigFacts:
    """What launching needs from a TrainConfig (paths as written; relative ones are OneTrainer's)."""

    config_version: int | None
    training_method: str
    model_type: str
    base_model_name: str
    workspace_dir: str
    cache_dir: str
    output_model_destination: str
    concepts: tuple[ConceptFacts, ...] | None  # None: in concept_file_name, which could not be read
    concept_file_name: str
    epochs: int
    batch_size: int
    gradient_accumulation_steps: int
    save_every: int
    save_every_unit: str
    save_skip_first: int
    backup_before_save: bool
    lora_rank: int
    tensorboard: bool
    problems: tuple[str, ...] = field(default=())


# OneTrainer's defaults (TrainConfig.default_values()) for the keys read here.
_DEFAULTS: dict[str, Any] = {
    "training_method": "FINE_TUNE",
    "model_type": "STABLE_DIFFUSION_15",
    "base_model_name": "stable-diffusion-v1-5/stable-diffusion-v1-5",
    "workspace_dir": "workspace/run",
    "cache_dir": "workspace-cache/run",
    "output_model_destination": "models/model.safetensors",
    "concept_file_name": "training_concepts/concepts.json",
    "concepts": None,
    "epochs": 100,
    "batch_size": 1,
    "gradient_accumulation_steps": 1,
    "save_every": 0,
    "save_every_unit": "NEVER",
    "save_skip_first": 0,
    "backup_before_save": True,
    "lora_rank": 16,
    "tensorboard": True,
}


def read_config_facts(path: Path) -> ConfigFacts:
    """Validate ``path`` and return the launch facts; raises :class:`ConfigError` for a bad config."""
    data = _validated_dict(path)
    return facts_from_dict(data, base_dir=path.parent)


def _validated_dict(path: Path) -> dict[str, Any]:
    """The config as OneTrainer's JSON shape, after onelazy's strict validation when available."""
    try:
        model = importlib.import_module("onelazy.onetrainer")
        read_train_config = getattr(model, "read_train_config", None)
        check_train_config = getattr(model, "check_train_config", None)
    except ImportError:  # the config model is not available: launch still checks what it needs
        read_train_config = check_train_config = None
    if read_train_config is None or check_train_config is None:
        return _read_json_object(path)
    config = read_train_config(path, strict=True)
    problems = [p for p in check_train_config(config, source=path) if _is_error(p)]
    if problems:
        first = problems[0]
        message = str(getattr(first, "message", first))
        key = getattr(first, "key", None)
        extra = f" (and {len(problems) - 1} more problem(s); run onelazy check)" if len(problems) > 1 else ""
        raise ConfigError(message + extra, file=path, key=key if isinstance(key, str) else None)
    return _read_json_object(path)


def _is_error(problem: object) -> bool:
    severity = getattr(problem, "severity", getattr(problem, "level", "error"))
    return str(getattr(severity, "value", severity)).lower() == "error"


def _read_json_object(path: Path) -> dict[str, Any]:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"cannot read: {exc.strerror or exc}", file=path) from exc
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ConfigError(
            f"not valid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}", file=path
        ) from exc
    if not isinstance(data, dict):
        raise ConfigError("a training config must be one JSON object", file=path)
    return data


def facts_from_dict(data: dict[str, Any], *, base_dir: Path | None = None) -> ConfigFacts:
    """The launch facts from a config dict in OneTrainer's JSON shape."""
    merged = {**_DEFAULTS, **{k: v for k, v in data.items() if k in _DEFAULTS}}
    version = data.get("__version")
    concepts = merged["concepts"]
    concept_facts: tuple[ConceptFacts, ...] | None
    problems: list[str] = []
    if concepts is None:
        concept_facts = _concepts_from_file(str(merged["concept_file_name"]), problems)
    elif isinstance(concepts, list):
        concept_facts = tuple(_concept(c) for c in concepts if isinstance(c, dict))
    else:
        concept_facts = None
        problems.append("concepts is neither a list nor null")
    return ConfigFacts(
        config_version=version if isinstance(version, int) else None,
        training_method=str(merged["training_method"]),
        model_type=str(merged["model_type"]),
        base_model_name=str(merged["base_model_name"]),
        workspace_dir=str(merged["workspace_dir"]),
        cache_dir=str(merged["cache_dir"]),
        output_model_destination=str(merged["output_model_destination"]),
        concepts=concept_facts,
        concept_file_name=str(merged["concept_file_name"]),
        epochs=_int(merged["epochs"], 100),
        batch_size=max(1, _int(merged["batch_size"], 1)),
        gradient_accumulation_steps=max(1, _int(merged["gradient_accumulation_steps"], 1)),
        save_every=_int(merged["save_every"], 0),
        save_every_unit=str(merged["save_every_unit"]),
        save_skip_first=_int(merged["save_skip_first"], 0),
        backup_before_save=merged["backup_before_save"] is True,
        lora_rank=_int(merged["lora_rank"], 16),
        tensorboard=merged["tensorboard"] is True,
        problems=tuple(problems),
    )


def _int(value: Any, default: int) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        return default


def _concept(entry: dict[str, Any]) -> ConceptFacts:
    balancing = entry.get("balancing", 1.0)
    return ConceptFacts(
        name=str(entry.get("name", "")),
        path=str(entry.get("path", "")),
        enabled=entry.get("enabled", True) is not False,
        include_subdirectories=entry.get("include_subdirectories", False) is True,
        balancing=float(balancing) if isinstance(balancing, (int, float)) else 1.0,
        balancing_strategy=str(entry.get("balancing_strategy", "REPEATS")),
    )


def _concepts_from_file(name: str, problems: list[str]) -> tuple[ConceptFacts, ...] | None:
    # Relative concept files resolve against OneTrainer's root; preflight re-reads it from there.
    path = Path(name)
    if not path.is_absolute():
        return None
    try:
        entries = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        problems.append(f"concept_file_name {name}: cannot read: {exc}")
        return None
    if not isinstance(entries, list):
        problems.append(f"concept_file_name {name}: not a JSON list")
        return None
    return tuple(_concept(c) for c in entries if isinstance(c, dict))


def concepts_relative_to(
    facts: ConfigFacts, root: Path
) -> tuple[tuple[ConceptFacts, ...] | None, str | None]:
    """The concepts, reading a relative ``concept_file_name`` from OneTrainer's root; or an error."""
    if facts.concepts is not None:
        return facts.concepts, None
    path = Path(facts.concept_file_name)
    if not path.is_absolute():
        path = root / path
    try:
        entries = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        return None, f"concept file {path}: cannot read: {exc.strerror or exc}"
    except json.JSONDecodeError as exc:
        return None, f"concept file {path}: not valid JSON: {exc.msg}"
    if not isinstance(entries, list):
        return None, f"concept file {path}: must be a JSON list"
    return tuple(_concept(c) for c in entries if isinstance(c, dict)), None
