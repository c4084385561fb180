"""``onelazy run`` end to end per family: SDXL, Flux.1 and Z-Image, init to compared LoRA.

The SD 1.5 run (every stage, Ctrl+C in each) is ``test_run_end_to_end.py``; here the same stand-ins
(ComfyUI validating against a real server's node definitions, OneTrainer's scripts/train.py) see a
family's graphs, its config and its LoRA applied the family's way.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from onelazy.backends.comfyui_graphs import recipe
from onelazy.pipeline import run_project
from onelazy.project import init_project
from tests.project.helpers import actions, fill_in


@pytest.mark.parametrize(
    ("preset", "family", "model_type", "model"),
    [
        # an SDXL derivative, as most SDXL users render with
        ("lazy-sdxl", "sdxl", "STABLE_DIFFUSION_XL_10_BASE", "sub/juggernaut_xl.safetensors"),
        ("lazy-flux1", "flux1", "FLUX_DEV_1", None),
        ("nonlazy-zimage-8gb", "zimage", "Z_IMAGE", None),
    ],
)
def test_run_from_init_to_compare_for_a_family(
    world: dict[str, Any], preset: str, family: str, model_type: str, model: str | None
) -> None:
    rec = recipe(family)
    result = init_project(
        world["base"] / "faery", name="faery", backend="comfyui", url=world["server"].url,
        onetrainer=str(world["onetrainer"]), preset=preset,
    )  # fmt: skip
    text = result.path.read_text(encoding="utf-8")
    assert f"  steps: {rec.steps}\n  cfg: {rec.cfg:g}\n" in text  # the family's render defaults
    fill_in(result.path, world, model=model or rec.example_model)
    summary = run_project(result.path)
    assert summary.outcome == "finished", summary
    assert actions(summary) == {
        "generate": "ran", "cull": "ran", "build-config": "ran", "launch": "ran", "compare": "ran",
    }  # fmt: skip
    project = result.path.parent
    config = json.loads((project / "run" / "config.json").read_text(encoding="utf-8"))
    assert config["model_type"] == model_type
    server = world["server"]
    assert server.graphs, "nothing was rendered"
    for graph in server.graphs:  # generate's and compare's: the family's graph, every time
        classes = {node["class_type"] for node in graph.values()}
        if rec.loader == "unet":
            assert {"UNETLoader", rec.clip_loader, "VAELoader", rec.latent} <= classes
            assert "CheckpointLoaderSimple" not in classes and "LoraLoader" not in classes
        else:
            assert {"CheckpointLoaderSimple", rec.latent} <= classes
            assert "UNETLoader" not in classes and "LoraLoaderModelOnly" not in classes
    with_lora = [g for g in server.graphs if any(n["class_type"] == rec.lora_loader for n in g.values())]
    assert with_lora, "compare applied no LoRA"
    assert (project / "run" / "compare" / "grid.png").is_file()
    assert (project / "faery.safetensors").is_file()
