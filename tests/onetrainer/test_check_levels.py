"""``onelazy check`` levels: errors fail, warnings are printed; OneTrainer's own files pass unless they
really break, and relative paths are looked up in OneTrainer's folder when it is known."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from onelazy.cli import cli
from onelazy.onetrainer.checks import check_file
from tests.onetrainer.facts import FACTS, fact_files

# OneTrainer's own files that really break, and why (every other one has warnings at most):
LAYER_PRESET_IGNORED = "'attn-mlp' has no effect under scripts/train.py without layer_filter"
REALLY_BREAK = {
    # The SD LoRA presets name a layer preset but leave layer_filter empty: the UI expands the
    # preset into the filter, scripts/train.py does not, so it trains every layer, not attentions.
    **{
        f"{folder}/{name}": {"layer_filter_preset": LAYER_PRESET_IGNORED}
        for folder in ("presets", "resolved-presets")
        for name in (
            "SD1.5/#sd 1.5 LoRA.json",
            "SD2.0/#sd 2.0 inpaint LoRA.json",
            "SD2.1/#sd 2.1 LoRA.json",
            "SDXL/#sdxl 1.0 LoRA.json",
            "SDXL/#sdxl 1.0 inpaint LoRA.json",
        )
    },
    # TrainConfig's defaults pair FINE_TUNE with SAFETENSORS, which OneTrainer cannot save a
    # fine-tuned model in: the run fails at its final save.
    "default-train-config.json": {
        "output_model_format": "SAFETENSORS is not an output format for FINE_TUNE on STABLE_DIFFUSION_15"
    },
}

BUILT_IN = [
    *fact_files("presets/**/*.json"),
    *fact_files("resolved-presets/**/*.json"),
    *fact_files("default-train-config.json"),
]


@pytest.fixture(autouse=True)
def _no_onetrainer_dir(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("ONETRAINER_DIR", raising=False)


def test_all_of_onetrainers_own_files_are_checked() -> None:
    assert len(fact_files("presets/**/*.json")) == 60
    assert len(fact_files("resolved-presets/**/*.json")) == 60
    assert all((FACTS / name).is_file() for name in REALLY_BREAK)


@pytest.mark.parametrize("path", BUILT_IN, ids=lambda path: path.relative_to(FACTS).as_posix())
def test_onetrainers_own_files_have_warnings_at_most_unless_they_really_break(path: Path) -> None:
    problems = check_file(path)
    errors = {problem.key: problem.message for problem in problems if problem.is_error}
    expected = REALLY_BREAK.get(path.relative_to(FACTS).as_posix(), {})
    assert set(errors) == set(expected), [str(p) for p in problems if p.is_error]
    for key, reason in expected.items():
        assert reason in errors[key]
    result = CliRunner().invoke(cli, ["check", str(path)])
    assert result.exit_code == (1 if expected else 0), result.output
    assert "Traceback" not in result.output


def test_a_preset_without_version_is_checked_as_a_preset_with_a_warning() -> None:
    path = FACTS / "presets" / "Flux 2" / "#flux2 Finetune 16GB.json"  # "optimizer" is an object
    (first, *_rest) = check_file(path)
    assert (first.key, first.level) == ("__version", "warning")
    assert "checked as a preset" in first.message and "--config-path" in first.message


def test_relative_files_are_looked_up_in_the_onetrainer_folder(tmp_path: Path) -> None:
    default = FACTS / "default-train-config.json"
    onetrainer = tmp_path / "OneTrainer"
    onetrainer.mkdir()
    result = CliRunner().invoke(cli, ["check", str(default), "--onetrainer", str(onetrainer)])
    assert result.exit_code == 1
    missing = [line for line in result.stdout.splitlines() if "not an existing file in OneTrainer" in line]
    assert len(missing) == 2 and str(onetrainer / "training_concepts" / "concepts.json") in missing[0]
    for name in ("training_concepts/concepts.json", "training_samples/samples.json"):
        (onetrainer / name).parent.mkdir()
        (onetrainer / name).write_text("[]", encoding="utf-8")
    result = CliRunner(env={"ONETRAINER_DIR": str(onetrainer)}).invoke(cli, ["check", str(default)])
    assert "not an existing file" not in result.stdout and "cannot be checked" not in result.stdout
    assert f"that is {onetrainer / 'training_concepts' / 'concepts.json'}" in result.stdout
    not_a_folder = CliRunner().invoke(cli, ["check", str(default), "--onetrainer", str(tmp_path / "nope")])
    assert not_a_folder.exit_code == 2 and "not a folder" in not_a_folder.stderr


def test_warnings_pass_and_strict_makes_them_fail(tmp_path: Path) -> None:
    images = tmp_path / "images"
    images.mkdir()
    path = tmp_path / "config.json"
    config = {
        "__version": 11,
        "training_method": "LORA",
        "output_model_format": "KOHYA_LORA",
        "workspace_dir": "workspace/run",
        "cache_dir": str(tmp_path / "cache"),
        "output_model_destination": str(tmp_path / "out.safetensors"),
        "concepts": [{"path": str(images), "seed": 5}],
        "samples": [],
    }
    path.write_text(json.dumps(config), encoding="utf-8")
    result = CliRunner().invoke(cli, ["check", str(path)])
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines() == [
        f"warning: {path}: workspace_dir: 'workspace/run' is a relative path; OneTrainer resolves it "
        "against its own working directory; write an absolute path to make it independent of where "
        "OneTrainer starts",
        f"{path}: OK, with 1 warning",
    ]
    assert "1 warning found" in result.stderr
    strict = CliRunner().invoke(cli, ["check", str(path), "--strict"])
    assert strict.exit_code == 1 and strict.stdout == result.stdout
    config["lora_rank"] = 0
    path.write_text(json.dumps(config), encoding="utf-8")
    both = CliRunner().invoke(cli, ["check", str(path)])
    assert both.exit_code == 1 and "1 error, 1 warning found." in both.stderr


def test_a_whole_float_in_an_int_key_is_a_warning_a_cut_one_an_error(tmp_path: Path) -> None:
    path = tmp_path / "config.json"
    path.write_text(
        json.dumps(
            {"__version": 11, "samples": [], "optimizer": {"percentile_clipping": 100.0}, "save_every": 2.5}
        )
    )
    levels = {
        p.key: p.level for p in check_file(path) if p.key in ("optimizer.percentile_clipping", "save_every")
    }
    assert levels == {"optimizer.percentile_clipping": "warning", "save_every": "error"}
