"""Upgrading old OneTrainer configs to the current version, step by step as OneTrainer does.

A TrainConfig dict with ``"__version": k`` (missing = 0, the unversioned legacy form) goes through
steps ``k, k+1, …, 10``; step ``k`` turns a version-``k`` dict into a version-``k+1`` one. The
steps work on plain dicts and reproduce OneTrainer's effect key for key, including what is lost
(the v1 embedding keys). Where OneTrainer's own migration would crash on a dict (a partial
unversioned dict, an unversioned dict whose ``optimizer`` is already an object), a
:class:`~onelazy.errors.MigrationError` names the key that is missing instead.

Keys a step does not know are passed through untouched; keys that no longer exist in version 11
are dropped later, when the dict is read into a model.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Mapping
from typing import Any

from onelazy.errors import ConfigError, MigrationError
from onelazy.onetrainer import CONCEPT_CONFIG_VERSION, CONFIG_VERSION

_FLAT_PARTS = (
    "unet",
    "prior",
    "text_encoder",
    "text_encoder_2",
    "vae",
    "effnet_encoder",
    "decoder",
    "decoder_text_encoder",
    "decoder_vqgan",
)
_ALL_PARTS = (
    "unet",
    "prior",
    "transformer",
    "unconditional_transformer",
    "text_encoder",
    "text_encoder_2",
    "text_encoder_3",
    "text_encoder_4",
    "vae",
    "effnet_encoder",
    "decoder",
    "decoder_text_encoder",
    "decoder_vqgan",
)
_PRIOR_MODELS = ("STABLE_CASCADE_1", "WUERSTCHEN_2")

Data = dict[str, Any]


def _crash(key: str, step: int, why: str, source: str | None) -> MigrationError:
    return MigrationError(
        f"cannot migrate from config version {step}: {why}",
        file=source,
        key=key,
        hint='only complete configs exported by OneTrainer migrate; give a partial config "__version": 11',
    )


def _step_0_flat_optimizer(data: Data, source: str | None = None) -> Data:
    """v0 → v1: ``optimizer`` + ``optimizer_<x>`` keys become one ``optimizer`` object."""
    if "optimizer" not in data:
        return data
    name = data["optimizer"]
    if not isinstance(name, str):
        raise _crash(
            "optimizer",
            0,
            "the file has no \"__version\" but 'optimizer' is already an object "
            "(OneTrainer's own migration fails with \"unhashable type: 'dict'\")",
            source,
        )
    settings: Data = {"optimizer": name}
    for key in list(data):
        if key.startswith("optimizer_") and key != "optimizer_defaults":
            settings[key.removeprefix("optimizer_")] = data.pop(key)
    data["optimizer"] = settings
    data["optimizer_defaults"] = {name: copy.deepcopy(settings)}
    return data


def _step_1_flat_model_parts(data: Data, source: str | None = None) -> Data:
    """v1 → v2: ``train_<part>``, ``<part>_learning_rate`` … become one object per model part."""
    parts: Data = {}
    for part in _FLAT_PARTS:
        settings: Data = {}
        if f"{part}_weight_dtype" in data:
            settings["weight_dtype"] = data.pop(f"{part}_weight_dtype")
        if f"train_{part}" in data:
            settings["train"] = data.pop(f"train_{part}")
        if f"train_{part}_epochs" in data:
            settings["stop_training_after"] = data.pop(f"train_{part}_epochs")
            settings["stop_training_after_unit"] = "EPOCH"
        if f"{part}_learning_rate" in data:
            settings["learning_rate"] = data.pop(f"{part}_learning_rate")
        if f"{part}_model_name" in data:
            settings["model_name"] = data.pop(f"{part}_model_name")
        parts[part] = settings
    # The embedding keys move to an "embeddings" list that no later version reads.
    embedding_keys = ("embedding_model_names", "token_count", "initial_embedding_text")
    if any(key in data for key in embedding_keys):
        names = data.pop("embedding_model_names", None)
        embedding: Data = {"model_name": names[0] if isinstance(names, list) and names else ""}
        for key in embedding_keys[1:]:
            if key in data:
                embedding[key] = data.pop(key)
        parts["embeddings"] = [embedding]
    return {**parts, **data}


def _step_2_loss_weight(data: Data, source: str | None = None) -> Data:
    """v2 → v3: ``min_snr_gamma`` becomes ``loss_weight_fn``; Wuerstchen/Cascade default to P2."""
    gamma = data.pop("min_snr_gamma", 0.0)
    if gamma != 0:
        data["loss_weight_fn"] = "MIN_SNR_GAMMA"
        data["loss_weight_strength"] = gamma
    elif data.get("model_type") in _PRIOR_MODELS:
        data["loss_weight_fn"] = "P2"
        data["loss_weight_strength"] = 1.0
    return data


def _step_3_timestep_distribution(data: Data, source: str | None = None) -> Data:
    """v3 → v4: a non-zero ``noising_weight`` means the SIGMOID distribution (bias shifted by -0.5)."""
    weight = data.pop("noising_weight", 0.0)
    bias = data.pop("noising_bias", 0.0)
    if weight != 0:
        data["timestep_distribution"] = "SIGMOID"
        data["noising_weight"] = weight
        data["noising_bias"] = bias - 0.5
    else:
        data["timestep_distribution"] = "UNIFORM"
        data["noising_weight"] = 0.0
        data["noising_bias"] = 0.0
    return data


def _step_4_gradient_checkpointing(data: Data, source: str | None = None) -> Data:
    """v4 → v5: the bool ``gradient_checkpointing`` becomes ``"ON"``/``"OFF"``."""
    value = data.get("gradient_checkpointing")
    if isinstance(value, bool):
        data["gradient_checkpointing"] = "ON" if value else "OFF"
    return data


def _rename(data: Data, renames: Mapping[str, str]) -> Data:
    for old, new in renames.items():
        if old in data:
            data[new] = data.pop(old)
    return data


def _step_5_save_every(data: Data, source: str | None = None) -> Data:
    """v5 → v6: ``save_after(_unit)`` is renamed ``save_every(_unit)``."""
    return _rename(data, {"save_after": "save_every", "save_after_unit": "save_every_unit"})


def _step_6_layer_preset_full(data: Data, source: str | None = None) -> Data:
    """v6 → v7: a null ``lora_layer_preset`` becomes ``"full"``."""
    if "lora_layer_preset" in data and data["lora_layer_preset"] is None:
        data["lora_layer_preset"] = "full"
    return data


def _step_7_layer_filter(data: Data, source: str | None = None) -> Data:
    """v7 → v8: ``lora_layers*`` keys are renamed ``layer_filter*``."""
    return _rename(
        data,
        {
            "lora_layers": "layer_filter",
            "lora_layer_preset": "layer_filter_preset",
            "lora_layers_regex": "layer_filter_regex",
        },
    )


def _step_8_transformer(data: Data, source: str | None = None) -> Data:
    """v8 → v9: every model but Wuerstchen/Cascade keeps its denoiser in ``transformer``, not ``prior``."""
    if "model_type" not in data:
        raise _crash(
            "model_type", 8, "the key is missing (OneTrainer fails with KeyError: 'model_type')", source
        )
    if data["model_type"] not in _PRIOR_MODELS:
        if "prior" not in data:
            raise _crash("prior", 8, "the key is missing (OneTrainer fails with KeyError: 'prior')", source)
        data["transformer"] = copy.deepcopy(data["prior"])
    return data


def _step_9_part_weight_dtype(data: Data, source: str | None = None) -> Data:
    """v9 → v10: parts with ``weight_dtype: "NONE"`` take the global ``weight_dtype``, which goes away."""
    if "weight_dtype" not in data:
        raise _crash(
            "weight_dtype", 9, "the key is missing (OneTrainer fails with KeyError: 'weight_dtype')", source
        )
    global_dtype = data.pop("weight_dtype")
    for part in _ALL_PARTS:
        if part not in data:
            continue
        settings = data[part]
        if not isinstance(settings, dict) or "weight_dtype" not in settings:
            raise _crash(
                f"{part}.weight_dtype",
                9,
                "the key is missing (OneTrainer fails with KeyError: 'weight_dtype')",
                source,
            )
        if settings["weight_dtype"] == "NONE":
            settings["weight_dtype"] = global_dtype
    return data


def _step_10_offloading_and_formats(data: Data, source: str | None = None) -> Data:
    """v10 → v11: offloading settings move into each part; ``SAFETENSORS`` becomes a LEGACY_* format."""
    checkpointing = data.pop("gradient_checkpointing", "ON")
    activation_offloading = data.pop("enable_activation_offloading", True)
    offload_fraction = data.pop("layer_offload_fraction", 0.0)
    data["async_offloading"] = data.pop("enable_async_offloading", True)
    cpu_offloaded = checkpointing == "CPU_OFFLOADED"
    for part in _ALL_PARTS:
        settings = data.get(part)
        if isinstance(settings, dict):
            settings["gradient_checkpointing"] = checkpointing != "OFF"
            settings["activation_offloading"] = cpu_offloaded and activation_offloading
            settings["offload_fraction"] = offload_fraction if cpu_offloaded else 0.0
    if data.get("output_model_format") == "SAFETENSORS":
        method = data.get("training_method", "FINE_TUNE")
        if method == "LORA":
            data["output_model_format"] = "LEGACY_LORA"
        elif method in ("FINE_TUNE", "FINE_TUNE_VAE"):
            data["output_model_format"] = "LEGACY_SAFETENSORS"
    return data


Migration = Callable[[Data, "str | None"], Data]

#: ``TRAIN_CONFIG_MIGRATIONS[k]`` turns a version-``k`` TrainConfig dict into version ``k+1`` (in place).
TRAIN_CONFIG_MIGRATIONS: tuple[Migration, ...] = (
    _step_0_flat_optimizer,
    _step_1_flat_model_parts,
    _step_2_loss_weight,
    _step_3_timestep_distribution,
    _step_4_gradient_checkpointing,
    _step_5_save_every,
    _step_6_layer_preset_full,
    _step_7_layer_filter,
    _step_8_transformer,
    _step_9_part_weight_dtype,
    _step_10_offloading_and_formats,
)


def _concept_step_0_balancing(data: Data, source: str | None = None) -> Data:
    """v0 → v1: ``repeats`` is renamed ``balancing``."""
    return _rename(data, {"repeats": "balancing"})


def _concept_step_1_type(data: Data, source: str | None = None) -> Data:
    """v1 → v2: the bool ``validation_concept`` becomes ``type`` VALIDATION or STANDARD."""
    if "validation_concept" in data:
        data["type"] = "VALIDATION" if data.pop("validation_concept") else "STANDARD"
    return data


#: ``CONCEPT_CONFIG_MIGRATIONS[k]`` turns a version-``k`` ConceptConfig dict into version ``k+1``.
CONCEPT_CONFIG_MIGRATIONS: tuple[Migration, ...] = (_concept_step_0_balancing, _concept_step_1_type)


def config_version(data: Mapping[str, Any], *, source: str | None = None) -> int:
    """The ``"__version"`` of a config dict (0 when missing, as OneTrainer reads it)."""
    version = data.get("__version", 0)
    if not isinstance(version, int) or isinstance(version, bool) or version < 0:
        raise ConfigError(
            f"{version!r} is not a config version",
            file=source,
            key="__version",
            allowed="a whole number >= 0",
        )
    return version


def _migrate(
    data: Mapping[str, Any], steps: tuple[Migration, ...], current: int, source: str | None
) -> dict[str, Any]:
    version = config_version(data, source=source)
    migrated = copy.deepcopy(dict(data))
    for step in range(version, current):
        migrated = steps[step](migrated, source)
    if version < current:
        migrated = {"__version": current, **{k: v for k, v in migrated.items() if k != "__version"}}
    return migrated


def migrate_train_config(data: Mapping[str, Any], *, source: str | None = None) -> dict[str, Any]:
    """Upgrade a TrainConfig dict of any older version to version 11 (a new dict; ``data`` is untouched).

    Inline ``concepts`` are upgraded by their own ``__version``, as OneTrainer does. A version
    newer than 11 is returned unchanged. Raises MigrationError where OneTrainer's own migration would crash.
    """
    migrated = _migrate(data, TRAIN_CONFIG_MIGRATIONS, CONFIG_VERSION, source)
    concepts = migrated.get("concepts")
    if isinstance(concepts, list):
        migrated["concepts"] = [
            migrate_concept_config(item, source=source) if isinstance(item, Mapping) else item
            for item in concepts
        ]
    return migrated


def migrate_concept_config(data: Mapping[str, Any], *, source: str | None = None) -> dict[str, Any]:
    """Upgrade one ConceptConfig dict (a concepts-file entry) to version 2."""
    return _migrate(data, CONCEPT_CONFIG_MIGRATIONS, CONCEPT_CONFIG_VERSION, source)
