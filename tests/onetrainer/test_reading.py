"""Reading bad input: every kind of problem names the file, the dotted key and what is allowed."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from onelazy.errors import ConfigError
from onelazy.onetrainer import (
    Problem,
    TrainConfig,
    load_train_config,
    load_train_config_lenient,
    read_concepts,
    read_samples,
    read_secrets,
    read_train_config,
    read_train_config_lenient,
    stable_concept_seed,
)
from onelazy.onetrainer.enums import ModelType, NoiseScheduler, Optimizer, TimeUnit


def _write(tmp_path: Path, value: Any, name: str = "config.json") -> Path:
    path = tmp_path / name
    path.write_text(json.dumps(value), encoding="utf-8")
    return path


def _strict_error(data: dict[str, Any]) -> ConfigError:
    with pytest.raises(ConfigError) as raised:
        load_train_config({"__version": 11, **data}, source="config.json")
    return raised.value


def test_unknown_key_gets_a_did_you_mean() -> None:
    error = _strict_error({"lora_rnak": 8})
    assert (error.file, error.key) == ("config.json", "lora_rnak")
    assert str(error).startswith("config.json: lora_rnak: not a TrainConfig key")
    assert "did you mean 'lora_rank'?" in str(error)


def test_unknown_nested_key_names_the_dotted_path() -> None:
    error = _strict_error({"optimizer": {"d_cof": 2.0}})
    assert error.key == "optimizer.d_cof"
    assert "TrainOptimizerConfig" in str(error) and "did you mean 'd_coef'?" in str(error)


def test_enum_near_miss_is_the_documented_line() -> None:
    error = _strict_error({"optimizer": {"optimizer": "ADAMW8"}})
    assert (
        str(error)
        == "config.json: optimizer.optimizer: 'ADAMW8' is not an optimizer; did you mean 'ADAMW_8BIT'?"
    )
    assert error.allowed is not None and "PRODIGY" in error.allowed


def test_enum_far_miss_lists_the_allowed_values() -> None:
    error = _strict_error({"ema": "SOMETIMES"})
    assert str(error) == "config.json: ema: 'SOMETIMES' is not an EMA mode; allowed: OFF, GPU, CPU"


def test_enum_names_are_case_sensitive_like_onetrainer() -> None:
    error = _strict_error({"model_type": "stable_diffusion_15"})
    assert "did you mean 'STABLE_DIFFUSION_15'?" in str(error)


def test_an_int_for_an_enum_is_refused() -> None:
    error = _strict_error({"training_method": 1})
    assert error.key == "training_method"
    assert "write the name as a string" in str(error)
    assert "FINE_TUNE, LORA, EMBEDDING, FINE_TUNE_VAE" in str(error)


def test_a_string_for_a_bool_is_refused() -> None:
    error = _strict_error({"unet": {"train": "false"}})
    assert error.key == "unet.train"
    assert "expected true or false without quotes, got a string" in str(error)
    assert error.allowed == ("true", "false")


def test_null_for_a_non_nullable_key_is_refused() -> None:
    error = _strict_error({"base_model_name": None})
    assert error.key == "base_model_name"
    assert "null is not allowed here; expected a string" in str(error)


def test_null_for_an_enum_lists_the_members() -> None:
    error = _strict_error({"model_type": None})
    assert error.key == "model_type"
    assert "null is not allowed here" in str(error)
    assert "allowed: STABLE_DIFFUSION_15, " in str(error) and "STABLE_DIFFUSION_XL_10_BASE" in str(error)


def test_null_is_fine_where_onetrainer_allows_it() -> None:
    config = load_train_config({"__version": 11, "clip_grad_norm": None, "concepts": None})
    assert config.clip_grad_norm is None


def test_a_fractional_interval_is_refused_with_what_onetrainer_would_do() -> None:
    error = _strict_error({"sample_after": 0.5})
    assert error.key == "sample_after"
    assert "expected a whole number, got 0.5" in str(error)
    assert "cut it to 0" in str(error) and "every step with SECOND/MINUTE/HOUR" in str(error)


def test_a_number_for_a_string_suggests_quotes() -> None:
    error = _strict_error({"resolution": 768})
    assert str(error) == 'config.json: resolution: expected a string, got 768; write "768"'


def test_a_wrong_type_inside_a_list_names_the_index() -> None:
    error = _strict_error({"concepts": [{"name": "a", "seed": 1}, {"name": "b", "seed": "x"}]})
    assert error.key == "concepts[1].seed"


def test_strict_reports_how_many_more_problems_there_are() -> None:
    error = _strict_error({"lora_rnak": 8, "epochs": "ten", "ema": 3})
    assert "and 2 more problems" in str(error)


def test_literal_string_choices_are_checked() -> None:
    error = _strict_error({"concepts": [{"seed": 1, "text": {"prompt_source": "caption"}}]})
    assert error.key == "concepts[0].text.prompt_source"
    assert error.allowed == ("sample", "concept", "filename")


def test_lenient_keeps_going_like_onetrainer() -> None:
    config, problems = load_train_config_lenient(
        {
            "__version": 11,
            "lora_rnak": 8,
            "learning_rate": "fast",
            "text_encoder": {"train": False, "stop_training_after": "x"},
            "epochs": 7,
        },
        source="fork.json",
    )
    assert {p.key for p in problems} == {"lora_rnak", "learning_rate", "text_encoder.stop_training_after"}
    assert all(isinstance(p, Problem) and p.file == "fork.json" for p in problems)
    assert config.epochs == 7
    assert config.learning_rate == TrainConfig().learning_rate  # the bad value fell back to the default
    assert config.text_encoder.train is False
    assert config.text_encoder.stop_training_after == 30  # TrainConfig's own default for text encoders


def test_partial_parts_keep_trainconfigs_part_defaults() -> None:
    config = load_train_config({"__version": 11, "text_encoder_2": {"train": False}})
    assert config.text_encoder_2.stop_training_after == 30
    assert config.text_encoder_2.stop_training_after_unit is TimeUnit.EPOCH
    assert config.unconditional_transformer.train is False


def test_future_version_is_a_problem_but_lenient_reads_it() -> None:
    config, problems = load_train_config_lenient({"__version": 99, "learning_rate": 0.5})
    assert config.learning_rate == 0.5
    assert [p.key for p in problems] == ["__version"]
    with pytest.raises(ConfigError, match="newer than 11"):
        load_train_config({"__version": 99})


def test_a_non_integer_version_is_refused() -> None:
    with pytest.raises(ConfigError) as raised:
        load_train_config({"__version": "11"}, source="c.json")
    assert raised.value.key == "__version"


def test_a_preset_is_read_without_migration() -> None:
    config = load_train_config({"learning_rate": 1.0, "optimizer": {"optimizer": "PRODIGY"}}, migrate=False)
    assert config.optimizer.optimizer is Optimizer.PRODIGY


def test_read_train_config_from_a_file(tmp_path: Path) -> None:
    path = _write(tmp_path, {"__version": 11, "model_type": "STABLE_DIFFUSION_XL_10_BASE"})
    assert read_train_config(path).model_type is ModelType.STABLE_DIFFUSION_XL_10_BASE
    bad = _write(tmp_path, {"__version": 11, "epochs": "many"}, "bad.json")
    with pytest.raises(ConfigError) as raised:
        read_train_config(bad)
    assert raised.value.file == str(bad) and raised.value.key == "epochs"
    config, problems = read_train_config_lenient(bad)
    assert config.epochs == 100 and [p.key for p in problems] == ["epochs"]


def test_a_file_that_is_not_json_names_the_line(tmp_path: Path) -> None:
    path = tmp_path / "broken.json"
    path.write_text('{\n  "epochs": 3,\n}', encoding="utf-8")
    with pytest.raises(ConfigError, match=r"not valid JSON: .* line 3"):
        read_train_config(path)
    with pytest.raises(ConfigError, match="no such file"):
        read_train_config(tmp_path / "missing.json")


def test_concepts_file_is_a_list_and_entries_are_migrated(tmp_path: Path) -> None:
    path = _write(tmp_path, [{"name": "dog", "path": "/data/dog", "repeats": 3.0}], "concepts.json")
    (concept,) = read_concepts(path)
    assert concept.balancing == 3.0
    assert concept.seed == stable_concept_seed("dog", "/data/dog")
    with pytest.raises(ConfigError, match="expected a JSON list"):
        read_concepts(_write(tmp_path, {"name": "dog"}, "not-a-list.json"))
    with pytest.raises(ConfigError) as raised:
        read_concepts(_write(tmp_path, [{"seed": 1, "balancing_strategy": "REPEAT"}], "bad.json"))
    assert raised.value.key == "[0].balancing_strategy" and "did you mean 'REPEATS'?" in str(raised.value)


def test_samples_file_entries_get_the_models_defaults(tmp_path: Path) -> None:
    path = _write(tmp_path, [{"prompt": "a photo of sks dog"}], "samples.json")
    (generic,) = read_samples(path)
    (sdxl,) = read_samples(path, model_type=ModelType.STABLE_DIFFUSION_XL_10_BASE)
    assert (generic.width, generic.cfg_scale, generic.noise_scheduler) == (512, 7.0, NoiseScheduler.DDIM)
    assert (sdxl.width, sdxl.cfg_scale, sdxl.noise_scheduler) == (1024, 7.5, NoiseScheduler.EULER_A)


def test_secret_values_never_appear_in_errors(tmp_path: Path) -> None:
    path = _write(
        tmp_path, {"huggingface_token": 123456789, "cloud": {"api_key": ["hf_SECRET"]}}, "secrets.json"
    )
    with pytest.raises(ConfigError) as raised:
        read_secrets(path)
    assert "123456789" not in str(raised.value) and "SECRET" not in str(raised.value)
    assert raised.value.key == "huggingface_token"
    error = _strict_error({"secrets": {"huggingface_token": 987654321}})
    assert "987654321" not in str(error) and error.key == "secrets.huggingface_token"
    assert (
        read_secrets(_write(tmp_path, {"huggingface_token": "hf_x"}, "ok.json")).huggingface_token == "hf_x"
    )


@pytest.mark.parametrize(
    ("typed", "meant"),
    [
        ("ADAMW8", "ADAMW_8BIT"),
        ("EULER_AA", "EULER_A"),
        ("lora_rnak", "lora_rank"),
        ("adamw", "ADAMW"),
        ("prodigy", "PRODIGY"),
        ("banana", None),
    ],
)
def test_did_you_mean(typed: str, meant: str | None) -> None:
    from onelazy.onetrainer import did_you_mean

    candidates = [*(m.value for m in Optimizer), *(m.value for m in NoiseScheduler), "lora_rank"]
    assert did_you_mean(typed, candidates) == meant


@pytest.mark.parametrize(
    ("data", "key", "fragment"),
    [
        ({"epochs": True}, "epochs", "expected a whole number, got true"),
        (
            {"learning_rate": "1e-4"},
            "learning_rate",
            'expected a number (or "inf"), got the string "1e-4" (write it without quotes)',
        ),
        ({"learning_rate": "hf_abcdefSECRET"}, "learning_rate", 'expected a number (or "inf"), got a string'),
        ({"learning_rate": False}, "learning_rate", "expected a number"),
        ({"unet": 5}, "unet", "expected an object (TrainModelPartConfig), got 5"),
        ({"samples": "[]"}, "samples", "expected a list, got a string"),
        ({"embedding": {"token_count": 1.5}}, "embedding.token_count", "OneTrainer would cut it to 1"),
    ],
)
def test_strict_types(data: dict[str, Any], key: str, fragment: str) -> None:
    error = _strict_error(data)
    assert error.key == key
    assert fragment in str(error)


def test_ints_are_fine_for_floats_and_written_as_floats() -> None:
    from onelazy.onetrainer import to_onetrainer_dict

    config = load_train_config({"__version": 11, "learning_rate": 1, "text_encoder_sequence_length": None})
    assert to_onetrainer_dict(config)["learning_rate"] == 1.0
    assert isinstance(config.learning_rate, float) and config.text_encoder_sequence_length is None


def test_wrong_typed_text_is_described_by_its_type_never_shown() -> None:
    """A token pasted into the wrong key must not end up in a terminal or a log."""
    token = "hf_abcdefSECRET123"
    for data in ({"learning_rate": token}, {"samples": token}, {"unet": [token]}, {"epochs": {"t": token}}):
        assert token not in str(_strict_error(data))
