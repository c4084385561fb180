"""What ``build-config`` writes into a run's OneTrainer files, spelled with OneTrainer's key names.

The rest of onelazy says what it wants in its own terms (a plan, the run's folders, an image
folder as a concept); the functions here turn that into OneTrainer's keys, so that only this
package spells them.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

# the key names are read by modules ``onelazy --help`` loads: the models load on first use
if TYPE_CHECKING:
    from onelazy.onetrainer.models import ConceptConfig, SampleConfig, SecretsConfig

__all__ = [
    "PLAN_KEYS",
    "RUN_KEYS",
    "PlanValues",
    "concept",
    "decided_by_folders",
    "plan_values",
    "run_values",
    "sample",
    "secrets_config",
    "with_lists",
    "without_lists",
]

#: The TrainConfig keys a training plan decides (:func:`plan_values`); ``--set`` may not change them.
PLAN_KEYS = (
    "epochs",
    "save_every",
    "save_every_unit",
    "save_skip_first",
    "sample_after",
    "sample_after_unit",
    "sample_skip_first",
    "validation",
    "validate_after",
    "validate_after_unit",
)
#: Keys a preset leaves to build-config: where the run's files and data are (:func:`run_values`).
RUN_KEYS = frozenset(
    {
        "workspace_dir",
        "cache_dir",
        "output_model_destination",
        "concepts",
        "samples",
        "concept_file_name",
        "sample_definition_file_name",
        "debug_dir",
    }
)
_CONCEPTS = "concepts"
_SAMPLES = "samples"


class PlanValues(Protocol):
    """What a training plan decides (:class:`onelazy.plan.TrainingPlan` is one)."""

    @property
    def epochs(self) -> int: ...
    @property
    def batch_size(self) -> int: ...
    @property
    def save_every(self) -> int: ...
    @property
    def save_every_unit(self) -> str: ...
    @property
    def save_skip_first(self) -> int: ...
    @property
    def sample_after(self) -> int: ...
    @property
    def sample_after_unit(self) -> str: ...
    @property
    def validation_images(self) -> int: ...
    @property
    def validate_after(self) -> int: ...
    @property
    def validate_after_unit(self) -> str: ...


def plan_values(plan: PlanValues) -> dict[str, int | str | bool]:
    """The TrainConfig keys ``plan`` sets (enums by member name)."""
    return {
        "validation": plan.validation_images > 0,
        "validate_after": plan.validate_after,
        "validate_after_unit": plan.validate_after_unit,
        "epochs": plan.epochs,
        "batch_size": plan.batch_size,
        "save_every": plan.save_every,
        "save_every_unit": plan.save_every_unit,
        "save_skip_first": plan.save_skip_first,
        "sample_after": plan.sample_after,
        "sample_after_unit": plan.sample_after_unit,
        "sample_skip_first": 0,
    }


def decided_by_folders(key: str) -> bool:
    """Is the dotted ``key`` the concepts list (or inside it), which the image folders decide?"""
    return key == _CONCEPTS or key.startswith((f"{_CONCEPTS}.", f"{_CONCEPTS}["))


def run_values(
    *,
    base_model: str,
    output: Path,
    workspace: Path,
    cache: Path,
    train_device: str,
    save_prefix: str,
    concepts_file: Path,
    samples_file: Path,
) -> dict[str, str]:
    """The TrainConfig keys that place a run: its base model, output, workspace, cache, device, the
    save files' prefix, and where the concepts and samples files go."""
    return {
        "base_model_name": base_model,
        "output_model_destination": str(output),
        "workspace_dir": str(workspace),
        "cache_dir": str(cache),
        "train_device": train_device,
        "save_filename_prefix": save_prefix,
        "concept_file_name": str(concepts_file),
        "sample_definition_file_name": str(samples_file),
    }


def concept(
    *,
    name: str,
    path: Path | str,
    include_subdirectories: bool,
    prompt_source: str,
    prompt_path: Path | None = None,
    validation: bool = False,
    resolution_override: str | None = None,
) -> ConceptConfig:
    """One image folder as a concept: its captions from ``prompt_source`` (and ``prompt_path``), a
    VALIDATION concept with ``validation``, trained at ``resolution_override`` when given."""
    from onelazy.onetrainer.enums import ConceptType
    from onelazy.onetrainer.models import ConceptConfig

    text: dict[str, Any] = {"prompt_source": prompt_source}
    if prompt_path is not None:
        text["prompt_path"] = str(prompt_path)
    data: dict[str, Any] = {
        "name": name,
        "path": str(path),
        "include_subdirectories": include_subdirectories,
        "text": text,
    }
    if validation:
        data["type"] = ConceptType.VALIDATION.value
    if resolution_override is not None:
        data["image"] = {"enable_resolution_override": True, "resolution_override": resolution_override}
    return ConceptConfig.model_validate(data)


def sample(template: SampleConfig, *, prompt: str, seed: int) -> SampleConfig:
    """``template`` (the model type's default sample) rendering ``prompt`` with ``seed``."""
    chosen = template.model_copy(deep=True)
    chosen.prompt = prompt  # assignments the model validates
    chosen.seed = seed
    return chosen


def secrets_config(huggingface_token: str) -> SecretsConfig:
    """A secrets file holding the Hugging Face token."""
    from onelazy.onetrainer.models import SecretsConfig

    return SecretsConfig(huggingface_token=huggingface_token)


def with_lists(
    data: dict[str, Any], concepts: Sequence[ConceptConfig], samples: Sequence[SampleConfig]
) -> dict[str, Any]:
    """A copy of the TrainConfig dict ``data`` with the concepts and samples inline."""
    from onelazy.onetrainer.writing import to_onetrainer_dict

    result = copy.deepcopy(data)
    result[_CONCEPTS] = [to_onetrainer_dict(item) for item in concepts]
    result[_SAMPLES] = [to_onetrainer_dict(item) for item in samples]
    return result


def without_lists(data: dict[str, Any]) -> dict[str, Any]:
    """The TrainConfig dict with the concepts and samples left to their files."""
    return {**data, _CONCEPTS: None, _SAMPLES: None}
