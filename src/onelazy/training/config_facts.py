"""The few facts about a training config that launching needs.

Preflight and the output parser need paths (workspace, output, concepts, base model) and the plan
(epochs, batch size, save cadence) - not the whole config. :func:`read_config_facts` validates the
file with :mod:`onelazy.onetrainer` (strict reading plus the cross-field checks ``onelazy check``
runs) and takes these values from the validated model, OneTrainer's defaults included.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from onelazy.errors import ConfigError
from onelazy.onetrainer import check_train_config, load_train_config, read_json
from onelazy.onetrainer.models import MODEL_PART_NAMES

if TYPE_CHECKING:
    from onelazy.onetrainer.models import ConceptConfig


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
    concepts: tuple[ConceptFacts, ...] | None  # None: they are in concept_file_name
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
    #: What ``onelazy check`` would warn about (relative paths, advice): shown, but no reason to stop.
    warnings: tuple[str, ...] = ()
    layer_filter: str = ""
    layer_filter_regex: bool = False
    output_dtype: str = "FLOAT_32"
    trained_parts: tuple[str, ...] = ()  # model parts (unet, text_encoder, ...) that train


def read_config_facts(path: Path, *, base_dir: Path | None = None) -> ConfigFacts:
    """Validate ``path`` and return the launch facts; raises :class:`ConfigError` for a bad config.

    ``base_dir`` is OneTrainer's working directory, where relative file names are looked up.
    """
    data = read_json(path)  # once: the model is migrated, so ``__version`` comes from the file's own dict
    config = load_train_config(data, source=str(path), strict=True)
    problems = check_train_config(config, source=str(path), base_dir=base_dir)
    errors = [problem for problem in problems if problem.is_error]
    if errors:
        raise errors[0].to_error(more=len(errors) - 1)
    version = data.get("__version")  # a strict read succeeded, so ``data`` is a JSON object
    return ConfigFacts(
        config_version=version if isinstance(version, int) else None,
        training_method=_name(config.training_method),
        model_type=_name(config.model_type),
        base_model_name=config.base_model_name,
        workspace_dir=config.workspace_dir,
        cache_dir=config.cache_dir,
        output_model_destination=config.output_model_destination,
        concepts=None if config.concepts is None else tuple(_concept(c) for c in config.concepts),
        concept_file_name=config.concept_file_name,
        epochs=config.epochs,
        batch_size=max(1, config.batch_size),
        gradient_accumulation_steps=max(1, config.gradient_accumulation_steps),
        save_every=config.save_every,
        save_every_unit=_name(config.save_every_unit),
        save_skip_first=config.save_skip_first,
        backup_before_save=config.backup_before_save,
        lora_rank=config.lora_rank,
        tensorboard=config.tensorboard,
        warnings=tuple(str(problem) for problem in problems if not problem.is_error),
        layer_filter=config.layer_filter,
        layer_filter_regex=config.layer_filter_regex,
        output_dtype=_name(config.output_dtype),
        trained_parts=tuple(name for name in MODEL_PART_NAMES if getattr(config, name).train),
    )


def _name(value: Any) -> str:
    return str(value.value) if isinstance(value, enum.Enum) else str(value)


def _concept(entry: ConceptConfig) -> ConceptFacts:
    return ConceptFacts(
        name=entry.name,
        path=entry.path,
        enabled=entry.enabled,
        include_subdirectories=entry.include_subdirectories,
        balancing=entry.balancing,
        balancing_strategy=_name(entry.balancing_strategy),
    )


def concepts_relative_to(
    facts: ConfigFacts, root: Path
) -> tuple[tuple[ConceptFacts, ...] | None, str | None]:
    """The concepts, reading a relative ``concept_file_name`` from OneTrainer's root; or an error."""
    if facts.concepts is not None:
        return facts.concepts, None
    from onelazy.onetrainer.reading import read_concepts

    path = Path(facts.concept_file_name).expanduser()
    if not path.is_absolute():
        path = root / path
    try:
        # as strictly as the config itself: a non-object entry or a misspelt key would otherwise
        # pass as "no enabled concept", or crash OneTrainer after loading the model
        concepts = read_concepts(path, strict=True)
    except ConfigError as exc:
        return None, f"concept file {exc}"
    return tuple(_concept(c) for c in concepts), None
