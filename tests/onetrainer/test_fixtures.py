"""The models against the files OneTrainer's own classes produced: defaults, presets, enums, schema."""

from __future__ import annotations

import json
import math
import typing
from pathlib import Path

import pytest
from pydantic import BaseModel

from onelazy.onetrainer import (
    CONCEPT_CONFIG_VERSION,
    CONFIG_VERSION,
    default_concept_config,
    default_sample_config,
    default_train_config,
    load_train_config,
    load_train_config_lenient,
    model_type_info,
    models,
    to_onetrainer_dict,
    to_onetrainer_json,
)
from onelazy.onetrainer import enums as ot_enums
from onelazy.onetrainer.enums import ModelType
from onelazy.onetrainer.reading import unwrap_annotation
from tests.onetrainer.facts import FACTS, as_onetrainer_text, fact_files, load

RESOLVED_PRESETS = fact_files("resolved-presets/**/*.json")


def test_the_facts_folder_has_presets(onetrainer_facts: Path) -> None:
    assert len(list(onetrainer_facts.glob("resolved-presets/**/*.json"))) >= 60


def test_default_train_config_serialises_to_the_fixture(onetrainer_facts: Path) -> None:
    expected = load(onetrainer_facts / "default-train-config.json")
    # The two values REFERENCE.md calls machine-dependent / random, written explicitly:
    config = default_train_config(train_device="cpu", embedding_uuid=expected["embedding"]["uuid"])
    assert to_onetrainer_json(config) == as_onetrainer_text(expected)


def test_default_train_config_fixes_the_random_and_machine_values() -> None:
    first, second = default_train_config(), default_train_config()
    assert first.train_device == "cuda"
    assert first.embedding.uuid == second.embedding.uuid
    assert default_train_config(train_device="mps", embedding_uuid="x").embedding.uuid == "x"


DEFAULT_FILES = fact_files("default-*.json")
ALL_MODELS: list[type[models.OneTrainerConfig]] = [
    cls for cls in vars(models).values() if isinstance(cls, type) and issubclass(cls, models.OneTrainerConfig)
]


def _default_like(item: dict[str, typing.Any], model_type: str | None) -> models.OneTrainerConfig:
    """Our default of the class whose keys ``item`` has, with OneTrainer's random/machine values copied."""
    keys = [key for key in item if key != "__version"]
    (cls,) = [cls for cls in ALL_MODELS if list(cls.model_fields) == keys]
    if cls is models.TrainConfig:
        return default_train_config(
            train_device=item["train_device"], embedding_uuid=item["embedding"]["uuid"]
        )
    if cls is models.ConceptConfig:
        return default_concept_config(seed=item["seed"])
    if cls is models.TrainEmbeddingConfig:
        return models.TrainEmbeddingConfig(uuid=item["uuid"])
    if cls is models.SampleConfig:
        return default_sample_config(model_type)
    return cls()


@pytest.mark.parametrize("path", DEFAULT_FILES, ids=lambda p: p.name)
def test_every_default_fixture_equals_our_defaults(path: Path) -> None:
    """Walks default-*.json: single objects, list files, and per-model-type tables."""
    data = load(path)
    if isinstance(data, list):
        entries = [(None, item) for item in data]
        assert to_onetrainer_json([_default_like(item, None) for item in data]) == as_onetrainer_text(data)
    elif "__version" in data:
        entries = [(None, data)]
        assert to_onetrainer_json(_default_like(data, None)) == as_onetrainer_text(data)
    else:
        assert set(data) == {m.value for m in ModelType}
        entries = list(data.items())
    for model_type, item in entries:
        assert to_onetrainer_dict(_default_like(item, model_type)) == item, model_type


def test_the_default_fixtures_are_there(onetrainer_facts: Path) -> None:
    assert len(list(onetrainer_facts.glob("default-*.json"))) >= 15


@pytest.mark.parametrize("path", RESOLVED_PRESETS, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_resolved_preset_loads_strictly_and_serialises_back_unchanged(path: Path) -> None:
    text = path.read_text(encoding="utf-8")
    config = load_train_config(json.loads(text), source=str(path))
    expected = text if text.endswith("\n") else text + "\n"
    assert to_onetrainer_json(config) == expected


def test_versions() -> None:
    assert (CONFIG_VERSION, CONCEPT_CONFIG_VERSION) == (11, 2)
    assert models.TrainConfig.onetrainer_version == 11
    assert models.ConceptConfig.onetrainer_version == 2


def test_enums_equal_onetrainers(onetrainer_facts: Path) -> None:
    facts = load(onetrainer_facts / "enums.json")["enums"]
    assert set(ot_enums.ALL_ENUMS) == set(facts)
    for name, fact in facts.items():
        enum_class = getattr(ot_enums, name)
        assert [member.name for member in enum_class] == fact["members"], name
        assert all(member.name == member.value for member in enum_class), name
    helper_sets = {
        ("Optimizer", "adaptive"): ot_enums.ADAPTIVE_OPTIMIZERS,
        ("Optimizer", "schedule_free"): ot_enums.SCHEDULE_FREE_OPTIMIZERS,
        ("Optimizer", "supports_fused_back_pass"): ot_enums.FUSED_BACK_PASS_OPTIMIZERS,
        ("DataType", "is_quantized"): ot_enums.QUANTIZED_DATA_TYPES,
        ("DataType", "is_gguf"): ot_enums.GGUF_DATA_TYPES,
        ("TimeUnit", "is_time_unit"): ot_enums.WALL_CLOCK_UNITS,
        ("LossWeight", "supports_flow_matching"): ot_enums.FLOW_MATCHING_LOSS_WEIGHTS,
        ("ModelFormat", "needs_qkv_fusion"): ot_enums.QKV_FUSED_FORMATS,
    }
    for (enum_name, helper), members in helper_sets.items():
        assert {m.value for m in members} == set(facts[enum_name][helper]), helper
    for fmt, extension in facts["ModelFormat"]["file_extension"].items():
        assert ot_enums.file_extension(ot_enums.ModelFormat(fmt)) == extension


def _schema_type(annotation: object) -> tuple[str, bool]:
    inner, nullable = unwrap_annotation(annotation)
    origin = typing.get_origin(inner)
    if isinstance(inner, type) and issubclass(inner, ot_enums.Enum):
        return inner.__name__, nullable
    if isinstance(inner, type) and issubclass(inner, BaseModel):
        return inner.__name__, nullable
    if origin is typing.Literal:
        return "str", nullable
    if origin is list:
        (item,) = typing.get_args(inner)
        item_type, _ = _schema_type(item)
        return f"list[{item_type}]", nullable
    if origin is dict:
        _, value = typing.get_args(inner)
        return ("dict" if value is typing.Any else f"dict[str, {_schema_type(value)[0]}]"), nullable
    if inner in (str, bool, int, float):
        return inner.__name__, nullable  # type: ignore[attr-defined]
    return "str", nullable  # secrets.cloud.port: str typed, int default


@pytest.mark.parametrize(
    "class_name",
    [
        "TrainConfig", "TrainModelPartConfig", "TrainEmbeddingConfig", "TrainOptimizerConfig",
        "QuantizationConfig", "ConceptConfig", "ConceptImageConfig", "ConceptTextConfig", "SampleConfig",
        "SecretsConfig", "CloudConfig", "CloudSecretsConfig",
    ],
)  # fmt: skip
def test_every_key_type_and_nullability_equals_onetrainers(onetrainer_facts: Path, class_name: str) -> None:
    facts = load(onetrainer_facts / "schema.json")["classes"][class_name]
    model: type[BaseModel] = getattr(models, class_name)
    assert list(model.model_fields) == list(facts["keys"]), "same keys in the same order"
    assert getattr(model, "onetrainer_version") == facts["config_version"]  # noqa: B009
    for key, fact in facts["keys"].items():
        kind, nullable = _schema_type(model.model_fields[key].annotation)
        assert (kind, nullable) == (fact["type"], fact["nullable"]), f"{class_name}.{key}"


def test_model_type_facts_equal_onetrainers(onetrainer_facts: Path) -> None:
    facts = load(onetrainer_facts / "model-types.json")["model_types"]
    presets = load(onetrainer_facts / "layer-filter-presets.json")["by_model_type"]
    assert set(facts) == {m.value for m in ModelType}
    for name, fact in facts.items():
        info = model_type_info(name)
        assert info.label == fact["ui_label"], name
        assert list(info.model_parts) == fact["model_parts"], name
        assert info.denoiser_part == fact["denoising_model_part"], name
        assert list(info.text_encoder_parts) == fact["text_encoder_parts"], name
        assert [m.value for m in info.training_methods] == fact["supported_training_methods"], name
        formats = {method.value: [f.value for f in fs] for method, fs in info.output_formats.items()}
        assert formats == fact["supported_output_formats"], name
        assert info.is_flow_matching == fact["flags"]["is_flow_matching"], name
        assert info.is_video == fact["flags"]["is_video_model"], name
        assert info.is_inpainting == fact["flags"]["has_mask_input"], name
        sample = fact["sample_defaults"]
        assert (info.native_width, info.native_height) == (sample["width"], sample["height"]), name
        assert (info.sample_steps, info.sample_cfg_scale) == (
            sample["diffusion_steps"],
            sample["cfg_scale"],
        ), name
        assert info.sample_noise_scheduler.value == sample["noise_scheduler"], name
        assert info.sample_negative_prompt == sample["negative_prompt"], name
        expanded = {
            preset: {"layer_filter": lf.layer_filter, "layer_filter_regex": lf.regex}
            for preset, lf in info.layer_filter_presets.items()
        }
        assert expanded == presets[name]["resolved"], name
        assert info.is_sd1x == name.startswith("STABLE_DIFFUSION_15")
        assert info.is_sdxl == name.startswith("STABLE_DIFFUSION_XL")


def test_default_resolution_strings() -> None:
    assert model_type_info(ModelType.STABLE_DIFFUSION_15).default_resolution == "512"
    assert model_type_info("STABLE_DIFFUSION_XL_10_BASE").default_resolution == "1024"
    assert model_type_info(ModelType.HUNYUAN_VIDEO).default_resolution == "848x480"


def test_infinite_floats_are_written_as_strings() -> None:
    optimizer = models.TrainOptimizerConfig.model_validate({"growth_rate": "inf"})
    assert optimizer.growth_rate == math.inf
    assert to_onetrainer_dict(optimizer)["growth_rate"] == "inf"
    assert to_onetrainer_dict(models.TrainOptimizerConfig(growth_rate=-math.inf))["growth_rate"] == "-inf"


RAW_PRESETS = fact_files("presets/**/*.json")


@pytest.mark.parametrize("path", RAW_PRESETS, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_raw_preset_merges_onto_the_defaults_like_onetrainer(path: Path) -> None:
    """A shipped preset (partial, no __version) read without migration, as --preset-path does.

    Some shipped presets still carry keys OneTrainer has removed (e.g. the global ``weight_dtype``);
    OneTrainer ignores them, lenient reading reports them, and the result is the same config.
    """
    preset = load(path)
    resolved = load(FACTS / "resolved-presets" / path.parent.name / path.name)
    # Only the machine-dependent / random values are supplied from OneTrainer's result.
    preset.setdefault("train_device", resolved["train_device"])
    preset["embedding"] = {**preset.get("embedding", {}), "uuid": resolved["embedding"]["uuid"]}
    config, problems = load_train_config_lenient(preset, source=str(path), migrate=False)
    assert all("not a TrainConfig key" in problem.message for problem in problems), problems
    assert to_onetrainer_dict(config) == resolved
