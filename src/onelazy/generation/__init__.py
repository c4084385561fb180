"""``generate()``: prompt sets into training images through SwarmUI or ComfyUI.

- :mod:`onelazy.generation.settings`: the ``generate:`` section (:class:`GenerateConfig`) and reading it;
- :mod:`onelazy.dataset.manifest` (the dataset's, not generate's own): which images are made, and
  appending to the manifest;
- :mod:`onelazy.generation.runner`: planning the jobs, keeping every backend busy, saving each image.

The names are imported on first use, so reading the settings (as ``onelazy.yaml`` does) loads no
HTTP client.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from onelazy._lazy import lazy_getattr

if TYPE_CHECKING:
    from onelazy.generation.runner import GenerateProgress, GenerateSummary, generate, plan_seeds
    from onelazy.generation.settings import (
        GenerateConfig,
        LoraWeight,
        PromptSet,
        RenderLayer,
        RenderValues,
        config_from_mapping,
        load_generate_config,
    )

__all__ = [
    "GenerateConfig",
    "GenerateProgress",
    "GenerateSummary",
    "LoraWeight",
    "PromptSet",
    "RenderLayer",
    "RenderValues",
    "config_from_mapping",
    "generate",
    "load_generate_config",
    "plan_seeds",
]

_LAZY: dict[str, str] = {
    "GenerateConfig": "onelazy.generation.settings",
    "LoraWeight": "onelazy.generation.settings",
    "PromptSet": "onelazy.generation.settings",
    "RenderLayer": "onelazy.generation.settings",
    "RenderValues": "onelazy.generation.settings",
    "config_from_mapping": "onelazy.generation.settings",
    "load_generate_config": "onelazy.generation.settings",
    "GenerateProgress": "onelazy.generation.runner",
    "GenerateSummary": "onelazy.generation.runner",
    "generate": "onelazy.generation.runner",
    "plan_seeds": "onelazy.generation.runner",
}

__getattr__ = lazy_getattr(__name__, _LAZY, globals())
