"""One type of render settings for every stage: onelazy.yaml's layers (shared, a set's own, the
compare: section's) resolve into the RenderSettings that generate's and compare's requests carry,
and the compare stage's fingerprint of an existing project is the one it always was."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from onelazy.backends import GenerationRequest
from onelazy.errors import ProjectFileError, UsageError
from onelazy.pipeline import _compare_inputs, _fingerprint, _State
from onelazy.project import init_project, load_project
from onelazy.render import RENDER_FIELDS, RenderSettings
from tests.project.test_project_file import fill


def _project(tmp_path: Path, compare_lines: str = "") -> Path:
    result = init_project(tmp_path, name="faery", backend="comfyui")
    fill(result.path, prompt="photo of a faery", model="sd15.safetensors", lora_dir=str(tmp_path / "loras"))
    text = result.path.read_text(encoding="utf-8")
    text = text.replace("  steps: 25\n", "  steps: 25\n  sampler: euler\n  loras: [style.safetensors]\n", 1)
    text = text.replace("  seed: 1234\n", "  seed: 1234\n" + compare_lines)
    result.path.write_text(text, encoding="utf-8")
    return result.path


def test_each_layer_over_the_one_under_it(tmp_path: Path) -> None:
    project = load_project(_project(tmp_path, "  steps: 30\n  model: other.safetensors\n"))
    _upright, wide = project.generate.sets
    shared = project.generate.render()
    assert shared == RenderSettings(
        model="sd15.safetensors", width=512, height=512, steps=25, cfg=7.0, sampler="euler", seed=1000,
        loras=(("style.safetensors", 1.0),), family="sd15",  # the preset's family
    )  # fmt: skip
    assert project.generate.set_render(wide) == shared.with_values(width=768, height=512)
    # compare: its own values, then the first set's; its own seed, and no LoRA but the checkpoint
    assert project.compare_render() == RenderSettings(
        model="other.safetensors", width=512, height=768, steps=30, cfg=7.0, sampler="euler", seed=1234,
        family="sd15",
    )
    assert project.compare_options()["render"] == project.compare_render()
    request = GenerationRequest.rendering(project.compare_render(), prompt="a faery")
    assert request.render_settings() == project.compare_render() and request.prompt == "a faery"
    assert set(RENDER_FIELDS) == {
        "model", "loras", "width", "height", "steps", "cfg", "sampler", "scheduler", "seed",
        "family", "text_encoders", "vae",
    }  # fmt: skip


def test_the_compare_fingerprint_of_an_existing_project_is_unchanged(tmp_path: Path) -> None:
    """The fingerprint is recorded in state.json: other inputs for the same settings would make a
    finished comparison stale after an upgrade."""
    project = load_project(_project(tmp_path))
    inputs = _compare_inputs(project, _State(project))
    expected = {
        "launch": "none",
        "compare.kind": "comfyui",
        "compare.url": project.generate.urls[0],
        "compare.model": "sd15.safetensors",
        "compare.lora_dir": str((tmp_path / "loras").resolve()),
        "compare.prompts": ["photo of a faery"],
        "compare.negative": "lowres, blurry, watermark, text",
        "compare.weights": [0.7, 1.0],
        "compare.seed": 1234,
        "compare.width": 512,
        "compare.height": 768,
        "compare.steps": 25,
        "compare.cfg": 7.0,
        "compare.sampler": "euler",
        "compare.scheduler": None,
    }
    assert inputs == expected
    text = json.dumps(expected, sort_keys=True, default=str).encode()
    assert _fingerprint(inputs) == hashlib.sha256(text).hexdigest()[:24]


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("  width: 500\n", "compare.width: Input should be a multiple of 8"),
        ("  steps: 900\n", "compare.steps: Input should be less than or equal to 500"),
        ('  model: ""\n', "compare.model: String should have at least 1 character"),
    ],
)
def test_compare_values_have_the_limits_generate_has(tmp_path: Path, line: str, message: str) -> None:
    with pytest.raises(ProjectFileError, match=message):
        load_project(_project(tmp_path, line))


def test_a_request_refuses_what_render_settings_refuse() -> None:
    with pytest.raises(UsageError, match=r"^render settings: width and height must be multiples of 8$"):
        RenderSettings(model="m", width=500)
    with pytest.raises(UsageError, match=r"^generation request: steps must be at least 1$"):
        GenerationRequest(prompt="p", model="m", steps=0)


def test_the_generate_sections_defaults_are_the_render_settings_own() -> None:
    """``generate:`` states the shared render settings again as a validated model; a default that
    drifted from RenderSettings' would render a file that says nothing differently from Python."""
    import dataclasses

    from onelazy.generation import GenerateConfig
    from onelazy.render import RenderSettings

    shared = {f.name: f for f in dataclasses.fields(RenderSettings) if f.name in GenerateConfig.model_fields}
    expected = {"width", "height", "steps", "cfg", "sampler", "scheduler", "seed", "loras", "family"}
    assert set(shared) >= expected
    for name, field in shared.items():
        if name == "model":  # required in both
            continue
        ours = field.default if field.default is not dataclasses.MISSING else field.default_factory()
        theirs = GenerateConfig.model_fields[name].get_default(call_default_factory=True)
        assert (tuple(theirs) if isinstance(theirs, list) else theirs) == ours, name
