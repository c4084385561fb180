"""Shared by the project tests: a stand-in world (ComfyUI with a LoRA folder, a OneTrainer checkout,
a tiny base model) and what a person types into onelazy.yaml after ``onelazy init``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

IMAGES_PER_SET = 6


class Interrupt:
    """Raises KeyboardInterrupt (what Ctrl+C does in the main thread) when a condition is first met."""

    def __init__(self, stage: str, when: Any) -> None:
        self.stage, self.when, self.fired = stage, when, False

    def __call__(self, stage: str, text: str) -> None:
        if not self.fired and stage == self.stage and self.when(text):
            self.fired = True
            raise KeyboardInterrupt


def fill_in(path: Path, setup: dict[str, Any], *, model: str = "tiny_sd15.safetensors") -> None:
    """What the person does after init: the three values, plus this machine's small test sizes.

    ``model`` is what the backend renders with (a diffusion model file for the newer families).
    The base model becomes the world's tiny folder whatever the preset's family, and a family
    rendering at 1024 px renders at SD 1.5 sizes here (512/768 px).
    """
    import re

    text = path.read_text(encoding="utf-8")
    text = re.sub(r"(?m)^base_model: .*$", "base_model: stable-diffusion-v1-5/stable-diffusion-v1-5", text)
    text = re.sub(r"(?m)^  min_side: \d+", "  min_side: 512", text)
    text = re.sub(r"(?m)^(\s+(?:width|height)): 1024$", r"\1: 512", text)
    text = re.sub(r"(?m)^(\s+(?:width|height)): 1536$", r"\1: 768", text)
    replacements = {
        "prompt: &prompt FILL IN": 'prompt: &prompt "photo of a faery, forest"',
        "model: FILL IN": f"model: {model}",
        "lora_dir: FILL IN": f"lora_dir: {setup['loras']}",
        # not part of the recipe: tiny images and a short run, so the test is quick
        "count: 100": f"count: {IMAGES_PER_SET}",
        "min_side: 512": "min_side: 16",
        "# total_steps: 2000": "total_steps: 16",
        "base_model: stable-diffusion-v1-5/stable-diffusion-v1-5": f"base_model: {setup['model']}",
        "train_device: cuda": "train_device: cpu",
        # six images per set are too few to spare a validation set (tests/project/test_evidence.py has one)
        "validation: auto ": "validation: none ",
    }
    for old, new in replacements.items():
        assert old in text, old
        text = text.replace(old, new)
    path.write_text(text, encoding="utf-8")


def state(project: Path) -> dict[str, Any]:
    stages: dict[str, Any] = json.loads((project / ".onelazy" / "state.json").read_text(encoding="utf-8"))[
        "stages"
    ]
    return stages


def actions(summary: Any) -> dict[str, str]:
    return {result.stage: result.action for result in summary.results}


def no_temporaries(folder: Path) -> None:
    leftovers = [p for p in folder.rglob(".*.tmp")]
    assert not leftovers, leftovers


def put_in_hub_cache(folder: Path, repo_id: str) -> Path:
    """Lay ``folder``'s files out as the Hugging Face cache keeps a downloaded repo (a snapshot
    that ``refs/main`` names), in the cache the tests use: a model named by its hub id then loads
    offline exactly as it would after its first download."""
    import hashlib
    import os
    import shutil

    cache = Path(os.environ["HF_HOME"]) / "hub" / f"models--{repo_id.replace('/', '--')}"
    commit = hashlib.sha1(repo_id.encode()).hexdigest()
    snapshot = cache / "snapshots" / commit
    snapshot.mkdir(parents=True, exist_ok=True)
    for file in folder.iterdir():
        shutil.copy2(file, snapshot / file.name)
    (cache / "refs").mkdir(exist_ok=True)
    (cache / "refs" / "main").write_text(commit, encoding="utf-8")
    return snapshot
