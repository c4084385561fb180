"""OneTrainer's default configs, with its machine-dependent and random values made explicit.

OneTrainer's ``default_values()`` puts the generating machine's device in ``train_device`` and a
random uuid / seed in ``embedding.uuid`` and ``ConceptConfig.seed``. Here they are arguments (or
derived from stable inputs), so the same call always gives the same config.
"""

from __future__ import annotations

from onelazy.onetrainer.enums import ModelType
from onelazy.onetrainer.model_types import model_type_info
from onelazy.onetrainer.models import (
    ConceptConfig,
    SampleConfig,
    SecretsConfig,
    TrainConfig,
    TrainEmbeddingConfig,
    stable_embedding_uuid,
)


def default_train_config(*, train_device: str = "cuda", embedding_uuid: str | None = None) -> TrainConfig:
    """OneTrainer's ``TrainConfig.default_values()`` (including its ``secrets`` block).

    ``embedding_uuid`` defaults to a stable uuid derived from the placeholder ``<embedding>``.
    """
    uuid = embedding_uuid if embedding_uuid is not None else stable_embedding_uuid("<embedding>")
    return TrainConfig(
        train_device=train_device,
        embedding=TrainEmbeddingConfig(uuid=uuid),
    )


def default_concept_config(*, seed: int, name: str = "", path: str = "") -> ConceptConfig:
    """OneTrainer's ``ConceptConfig.default_values()`` with an explicit ``seed``."""
    return ConceptConfig(seed=seed, name=name, path=path)


def default_sample_config(model_type: ModelType | str | None = None) -> SampleConfig:
    """OneTrainer's ``SampleConfig.default_values(model_type)``: the model's size, steps, cfg and scheduler.

    Without a model type: the generic defaults (512x512, 30 steps, cfg 7.0, DDIM) that inline
    ``samples`` entries get.
    """
    if model_type is None:
        return SampleConfig()
    info = model_type_info(model_type)
    return SampleConfig(
        width=info.native_width,
        height=info.native_height,
        diffusion_steps=info.sample_steps,
        cfg_scale=info.sample_cfg_scale,
        noise_scheduler=info.sample_noise_scheduler,
        negative_prompt=info.sample_negative_prompt,
    )


def default_secrets_config() -> SecretsConfig:
    """OneTrainer's ``SecretsConfig.default_values()`` (empty token, no cloud credentials)."""
    return SecretsConfig()
