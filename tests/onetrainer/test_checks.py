"""Cross-key checks: each kind of problem OneTrainer would only notice mid-run (or never)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from onelazy.onetrainer import TrainConfig, check_train_config, load_train_config
from onelazy.onetrainer.checks import check_concepts


def clean_config(tmp_path: Path, **overrides: Any) -> TrainConfig:
    """An SDXL LoRA with absolute paths and inline data: no problems at all."""
    images = tmp_path / "images"
    images.mkdir(exist_ok=True)
    data: dict[str, Any] = {
        "__version": 11,
        "model_type": "STABLE_DIFFUSION_XL_10_BASE",
        "training_method": "LORA",
        "base_model_name": "stabilityai/stable-diffusion-xl-base-1.0",
        "workspace_dir": str(tmp_path / "workspace"),
        "cache_dir": str(tmp_path / "cache"),
        "output_model_format": "KOHYA_LORA",
        "output_model_destination": str(tmp_path / "dog.safetensors"),
        "layer_filter_preset": "attn-mlp",
        "layer_filter": "attentions",
        "concepts": [{"name": "dog", "path": str(images), "seed": 1}],
        "samples": [],
    }
    data.update(overrides)
    return load_train_config(data)


def keys(problems: list[Any]) -> list[str]:
    return [problem.key for problem in problems]


def test_a_clean_config_has_no_problems(tmp_path: Path) -> None:
    assert check_train_config(clean_config(tmp_path), source="c.json") == []


def test_output_format_must_suit_method_and_model(tmp_path: Path) -> None:
    (problem,) = check_train_config(clean_config(tmp_path, output_model_format="DIFFUSERS"), source="c.json")
    assert problem.key == "output_model_format"
    assert "DIFFUSERS is not an output format for LORA on STABLE_DIFFUSION_XL_10_BASE" in problem.message
    assert problem.allowed == ("DIFFUSERS_LORA", "KOHYA_LORA", "ORIGINAL_LORA", "COMFY_LORA", "LEGACY_LORA")
    assert str(problem).startswith("c.json: output_model_format: ")


def test_the_default_fine_tune_format_is_flagged(tmp_path: Path) -> None:
    config = clean_config(tmp_path, training_method="FINE_TUNE", output_model_format="SAFETENSORS")
    (problem,) = check_train_config(config)
    assert problem.allowed == ("DIFFUSERS", "ORIGINAL_SINGLE_FILE", "LEGACY_SAFETENSORS")


def test_a_lora_written_as_safetensors_has_its_own_message(tmp_path: Path) -> None:
    (problem,) = check_train_config(clean_config(tmp_path, output_model_format="SAFETENSORS"))
    assert "holds only embeddings" in problem.message
    assert problem.hint is not None and "LEGACY_LORA" in problem.hint


def test_a_training_method_the_model_lacks(tmp_path: Path) -> None:
    config = clean_config(
        tmp_path, model_type="QWEN", training_method="EMBEDDING", output_model_format="SAFETENSORS"
    )
    (problem,) = check_train_config(config)
    assert problem.key == "training_method" and problem.allowed == ("FINE_TUNE", "LORA")


def test_concepts_and_samples_need_a_source(tmp_path: Path) -> None:
    config = clean_config(
        tmp_path,
        concepts=None,
        samples=None,
        concept_file_name=str(tmp_path / "concepts.json"),
        sample_definition_file_name=str(tmp_path / "samples.json"),
    )
    problems = check_train_config(config)
    assert keys(problems) == ["concepts", "samples"]
    assert 'samples": []' in (problems[1].hint or "")
    (tmp_path / "concepts.json").write_text("[]", encoding="utf-8")
    (tmp_path / "samples.json").write_text("[]", encoding="utf-8")
    assert check_train_config(config) == []


def test_relative_data_files_are_looked_up_in_onetrainers_folder(tmp_path: Path) -> None:
    config = clean_config(tmp_path, samples=None, sample_definition_file_name="samples.json")
    (missing,) = check_train_config(config, base_dir=tmp_path)
    assert (missing.key, missing.level) == ("samples", "error")
    assert f"not an existing file in OneTrainer's folder ({tmp_path / 'samples.json'})" in missing.message
    (tmp_path / "samples.json").write_text("[]", encoding="utf-8")
    (found,) = check_train_config(config, base_dir=tmp_path)
    assert (found.key, found.level) == ("sample_definition_file_name", "warning")
    assert str(tmp_path / "samples.json") in found.message
    (unknown,) = check_train_config(config)  # no OneTrainer folder: cannot be checked, says so
    assert (unknown.key, unknown.level) == ("sample_definition_file_name", "warning")
    assert "cannot be checked" in unknown.message and "--onetrainer or ONETRAINER_DIR" in unknown.message


def test_each_problem_has_the_level_its_consequence_deserves(tmp_path: Path) -> None:
    def levels(**overrides: Any) -> list[tuple[str, str]]:
        return [(p.key, p.level) for p in check_train_config(clean_config(tmp_path, **overrides))]

    assert levels(output_model_format="DIFFUSERS") == [("output_model_format", "error")]
    assert levels(layer_filter="") == [("layer_filter_preset", "error")]
    assert levels(workspace_dir="ws") == [("workspace_dir", "warning")]
    assert levels(learning_rate=0.0003, optimizer={"optimizer": "PRODIGY"}) == [("learning_rate", "warning")]
    assert levels(concepts=[{"path": str(tmp_path / "gone"), "seed": 1}]) == [("concepts[0].path", "error")]
    assert levels(concepts=[{"path": "rel", "seed": 1}]) == [("concepts[0].path", "warning")]


def test_layer_filter_preset_without_its_filter(tmp_path: Path) -> None:
    (problem,) = check_train_config(clean_config(tmp_path, layer_filter=""))
    assert problem.key == "layer_filter_preset"
    assert "no effect under scripts/train.py" in problem.message
    assert problem.hint == "set layer_filter to 'attentions' and layer_filter_regex to false"


def test_a_regex_preset_says_so(tmp_path: Path) -> None:
    config = clean_config(
        tmp_path, model_type="Z_IMAGE", output_model_format="DIFFUSERS_LORA", layer_filter=""
    )
    (problem,) = check_train_config(config)
    assert problem.hint is not None and problem.hint.endswith("layer_filter_regex to true")


def test_unknown_layer_preset_for_the_model(tmp_path: Path) -> None:
    (problem,) = check_train_config(clean_config(tmp_path, layer_filter="", layer_filter_preset="blocks"))
    assert "not a layer filter preset for STABLE_DIFFUSION_XL_10_BASE" in problem.message
    assert problem.allowed == ("full", "attn-mlp", "attn-only", "custom")


def test_quantization_preset_is_checked_too(tmp_path: Path) -> None:
    config = clean_config(tmp_path, quantization={"layer_filter_preset": "attn-only"})
    assert keys(check_train_config(config)) == ["quantization.layer_filter_preset"]


@pytest.mark.parametrize("unit", ["SECOND", "MINUTE", "HOUR"])
def test_zero_interval_with_a_clock_unit_means_every_step(tmp_path: Path, unit: str) -> None:
    (problem,) = check_train_config(clean_config(tmp_path, sample_after=0, sample_after_unit=unit))
    assert problem.key == "sample_after" and "every training step" in problem.message


def test_zero_interval_with_epochs_is_fine(tmp_path: Path) -> None:
    assert check_train_config(clean_config(tmp_path, save_every=0, save_every_unit="EPOCH")) == []


def test_a_non_whole_interval_that_got_past_validation(tmp_path: Path) -> None:
    config = clean_config(tmp_path)
    object.__setattr__(config, "backup_after", 2.5)  # as model_construct() could leave it
    (problem,) = check_train_config(config)
    assert problem.key == "backup_after" and "whole number" in problem.message


def test_prodigy_with_a_small_learning_rate(tmp_path: Path) -> None:
    config = clean_config(tmp_path, learning_rate=0.0003, optimizer={"optimizer": "PRODIGY"})
    (problem,) = check_train_config(config)
    assert problem.key == "learning_rate" and "near 1.0" in problem.message
    assert (
        check_train_config(clean_config(tmp_path, learning_rate=1.0, optimizer={"optimizer": "PRODIGY"}))
        == []
    )
    part = clean_config(
        tmp_path, learning_rate=1.0, optimizer={"optimizer": "DADAPT_ADAM"}, unet={"learning_rate": 1e-4}
    )
    assert keys(check_train_config(part)) == ["unet.learning_rate"]


def test_relative_paths_are_named(tmp_path: Path) -> None:
    config = clean_config(tmp_path, workspace_dir="workspace/run", lora_model_name="loras/old.safetensors")
    assert keys(check_train_config(config)) == ["workspace_dir", "lora_model_name"]
    problem = check_train_config(config)[0]
    assert "OneTrainer resolves it against its own working directory" in problem.message


def test_hugging_face_repo_ids_are_not_paths(tmp_path: Path) -> None:
    assert check_train_config(clean_config(tmp_path, base_model_name="org/model")) == []


def test_concept_folders(tmp_path: Path) -> None:
    config = clean_config(
        tmp_path,
        concepts=[
            {"path": "data/dog", "seed": 1},
            {"path": str(tmp_path / "missing"), "seed": 2},
            {"path": "", "seed": 3, "enabled": False},
            {"path": str(tmp_path), "seed": 4, "text": {"prompt_source": "concept"}},
        ],
    )
    assert keys(check_concepts(config.concepts or [], prefix="concepts")) == [
        "concepts[0].path",
        "concepts[1].path",
        "concepts[3].text.prompt_path",
    ]


def test_a_value_refused_on_reading_is_not_reported_again_as_its_default(tmp_path: Path) -> None:
    import json

    from onelazy.onetrainer.checks import check_file

    config = tmp_path / "config.json"
    config.write_text(json.dumps({"__version": 11, "concepts": 5, "samples": []}))
    about_concepts = [str(p) for p in check_file(config) if p.key == "concepts"]
    assert about_concepts == [f"{config}: concepts: expected a list, got 5"]

    concepts = tmp_path / "concepts.json"
    concepts.write_text(json.dumps([{"name": "x", "path": 5}]))
    assert [str(p) for p in check_file(concepts)] == [
        f'{concepts}: [0].path: expected a string, got 5; write "5"'
    ]
