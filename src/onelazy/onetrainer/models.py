"""Pydantic models of OneTrainer's config files, key for key (TrainConfig version 11, ConceptConfig 2).

Every class has the same keys, in the same order, with the same types, nullability and defaults as
OneTrainer's config class of the same name. Types are strict where OneTrainer is sloppy: a string
``"false"`` for a bool, an ``int`` for an enum, ``null`` for a non-nullable key or ``768`` for a
string are refused instead of being stored as-is or turned into ``"None"``. Unknown keys are refused
(``extra="forbid"``); :mod:`onelazy.onetrainer.reading` turns those refusals into one-line problems
with a "did you mean".

A few OneTrainer defaults depend on the machine or on chance; here they are fixed:
``TrainConfig.train_device`` defaults to ``"cuda"``, ``TrainEmbeddingConfig.uuid`` is derived from
the placeholder and ``ConceptConfig.seed`` from the concept's name and path when they are missing.

Validating a OneTrainer dict (``TrainConfig.model_validate(data)``) merges it onto the defaults the
way OneTrainer's ``from_dict`` does: missing keys keep their defaults, and a partial model-part
object (``"text_encoder": {"train": false}``) keeps TrainConfig's own defaults for that part. Nested
``"__version"`` keys are accepted and dropped; migrating old versions is :func:`migrate_train_config`'s
job and happens only when reading whole files.
"""

import uuid
import zlib
from functools import partial
from typing import Annotated, Any, ClassVar, Literal

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    Strict,
    StrictInt,
    StrictStr,
    WithJsonSchema,
    model_validator,
)
from pydantic_core import PydanticCustomError

from onelazy.onetrainer.enums import (
    AttentionMechanism,
    AudioFormat,
    BalancingStrategy,
    CloudAction,
    CloudFileSync,
    CloudType,
    ConceptType,
    ConfigPart,
    DataType,
    EMAMode,
    GradientReducePrecision,
    ImageFormat,
    LearningRateScaler,
    LearningRateScheduler,
    LossScaler,
    LossWeight,
    ModelFormat,
    ModelType,
    NoiseScheduler,
    Optimizer,
    PeftType,
    TimestepDistribution,
    TimeUnit,
    TrainingMethod,
    VideoFormat,
)

__all__ = [
    "MODEL_PART_NAMES",
    "CloudConfig",
    "CloudSecretsConfig",
    "ConceptConfig",
    "ConceptImageConfig",
    "ConceptTextConfig",
    "OneTrainerConfig",
    "QuantizationConfig",
    "SampleConfig",
    "SecretsConfig",
    "TrainConfig",
    "TrainEmbeddingConfig",
    "TrainModelPartConfig",
    "TrainOptimizerConfig",
    "default_embedding_config",
    "default_part_config",
    "stable_concept_seed",
    "stable_embedding_uuid",
]

# --------------------------------------------------------------------------- value types

Str = Annotated[str, Strict()]
Bool = Annotated[bool, Strict()]
Int = Annotated[int, Strict()]


def _number(value: Any) -> float:
    """A float key: ints become floats (as OneTrainer's float() does); "inf"/"-inf" are infinities."""
    if isinstance(value, bool):
        raise PydanticCustomError("float_type", "Input should be a number")
    if isinstance(value, (int, float)):
        return float(value)
    if isinstance(value, str) and value in ("inf", "-inf"):
        return float(value)
    raise PydanticCustomError("float_type", "Input should be a number")


Float = Annotated[
    float,
    BeforeValidator(_number),
    WithJsonSchema({"anyOf": [{"type": "number"}, {"type": "string", "enum": ["inf", "-inf"]}]}),
]


# ``secrets.cloud.port`` is typed str in OneTrainer but defaults to the int 0, which its to_dict writes
# as 0 and its from_dict reads back as "0". The value keeps the JSON type it was given, so files
# round-trip unchanged; OneTrainer accepts both.
Port = Annotated[StrictStr | StrictInt, WithJsonSchema({"anyOf": [{"type": "string"}, {"type": "integer"}]})]

PromptSource = Literal["sample", "concept", "filename"]
TagDropoutMode = Literal["FULL", "RANDOM", "RANDOM WEIGHTED"]
SpecialTagsMode = Literal["NONE", "BLACKLIST", "WHITELIST"]

#: The TrainConfig keys that hold a TrainModelPartConfig, in OneTrainer's order.
MODEL_PART_NAMES: tuple[str, ...] = (
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

# TrainConfig's own defaults for some parts differ from TrainModelPartConfig's class defaults.
_PART_OVERRIDES: dict[str, dict[str, Any]] = {
    "unet": {"stop_training_after": 0},
    "prior": {"stop_training_after": 0},
    "transformer": {"stop_training_after": 0},
    "unconditional_transformer": {"train": False, "gradient_checkpointing": False},
    **{
        name: {"stop_training_after": 30, "stop_training_after_unit": "EPOCH"}
        for name in ("text_encoder", "text_encoder_2", "text_encoder_3", "text_encoder_4")
    },
}

_ONELAZY_NAMESPACE = uuid.UUID("4f1c2b7e-3d0a-5e8b-9c61-0a7f2d9e4b13")


def stable_embedding_uuid(placeholder: str) -> str:
    """A uuid that stays the same for the same placeholder (OneTrainer draws a random one)."""
    return str(uuid.uuid5(_ONELAZY_NAMESPACE, f"embedding:{placeholder}"))


def stable_concept_seed(name: str, path: str) -> int:
    """A seed that stays the same for the same concept (OneTrainer draws a random one)."""
    return zlib.crc32(f"{name}\0{path}".encode()) & 0x3FFFFFFF


# --------------------------------------------------------------------------- base class


class OneTrainerConfig(BaseModel):
    """Common behaviour of every OneTrainer config class: strict, no unknown keys, ``__version`` dropped."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True, protected_namespaces=())

    #: The ``"__version"`` OneTrainer writes for this class.
    onetrainer_version: ClassVar[int] = 0

    @model_validator(mode="before")
    @classmethod
    def _from_onetrainer_dict(cls, data: Any) -> Any:
        if not isinstance(data, dict):
            return data
        data = dict(data)
        if "__version" in data:
            version = data.pop("__version")
            if not isinstance(version, int) or isinstance(version, bool):
                raise PydanticCustomError("version_type", "__version should be a whole number")
        return cls._complete(data)

    @classmethod
    def _complete(cls, data: dict[str, Any]) -> dict[str, Any]:
        """Fill in what OneTrainer would fill in before the fields are validated."""
        return data


class TrainModelPartConfig(OneTrainerConfig):
    """One model part (``unet``, ``transformer``, ``text_encoder``, ...): what to load, train and how."""

    onetrainer_version: ClassVar[int] = 0

    model_name: Str = ""
    include: Bool = True
    train: Bool = True
    stop_training_after: Int | None = None
    stop_training_after_unit: TimeUnit = TimeUnit.NEVER
    learning_rate: Float | None = None
    weight_dtype: DataType = DataType.FLOAT_32
    dropout_probability: Float = 0.0
    train_embedding: Bool = True
    attention_mask: Bool = False
    guidance_scale: Float = 1.0
    gradient_checkpointing: Bool = True
    offload_fraction: Float = 0.0
    activation_offloading: Bool = False


class QuantizationConfig(OneTrainerConfig):
    """Which layers get a quantized weight dtype, and SVDQuant settings (``quantization``)."""

    onetrainer_version: ClassVar[int] = 0

    layer_filter: Str = ""
    layer_filter_preset: Str = "full"
    layer_filter_regex: Bool = False
    svd_dtype: DataType = DataType.NONE
    svd_rank: Int = 16
    cache_dir: Str | None = None


class TrainEmbeddingConfig(OneTrainerConfig):
    """A textual-inversion embedding (``embedding`` and each of ``additional_embeddings``).

    ``uuid`` names the embedding's backup files; OneTrainer draws a random one, onelazy derives a
    stable one from ``placeholder`` when it is missing.
    """

    onetrainer_version: ClassVar[int] = 0

    @classmethod
    def _complete(cls, data: dict[str, Any]) -> dict[str, Any]:
        if "uuid" not in data:
            placeholder = data.get("placeholder", "<embedding>")
            data["uuid"] = stable_embedding_uuid(placeholder if isinstance(placeholder, str) else "")
        return data

    uuid: Str
    model_name: Str = ""
    placeholder: Str = "<embedding>"
    train: Bool = True
    stop_training_after: Int | None = None
    stop_training_after_unit: TimeUnit = TimeUnit.NEVER
    token_count: Int | None = 1
    initial_embedding_text: Str = "*"
    is_output_embedding: Bool = False


class TrainOptimizerConfig(OneTrainerConfig):
    """The optimizer and every setting any optimizer takes; ``None`` means the optimizer's fallback."""

    onetrainer_version: ClassVar[int] = 0

    optimizer: Optimizer = Optimizer.ADAMW
    adam_w_mode: Bool = False
    alpha: Float | None = None
    amsgrad: Bool = False
    beta1: Float | None = None
    beta2: Float | None = None
    beta3: Float | None = None
    bias_correction: Bool = False
    block_wise: Bool = False
    capturable: Bool = False
    centered: Bool = False
    clip_threshold: Float | None = None
    d0: Float | None = None
    d_coef: Float | None = None
    dampening: Float | None = None
    decay_rate: Float | None = None
    decouple: Bool = False
    differentiable: Bool = False
    eps: Float | None = None
    eps2: Float | None = None
    foreach: Bool | None = False
    fsdp_in_use: Bool = False
    fused: Bool = False
    fused_back_pass: Bool = False
    growth_rate: Float | None = None
    initial_accumulator_value: Int | None = None
    initial_accumulator: Float | None = None
    is_paged: Bool = False
    log_every: Int | None = None
    lr_decay: Float | None = None
    max_unorm: Float | None = None
    maximize: Bool = False
    min_8bit_size: Int | None = None
    quant_block_size: Int | None = None
    momentum: Float | None = None
    nesterov: Bool = False
    no_prox: Bool = False
    optim_bits: Int | None = None
    percentile_clipping: Int | None = None
    r: Float | None = None
    relative_step: Bool = False
    safeguard_warmup: Bool = False
    scale_parameter: Bool = False
    stochastic_rounding: Bool = True
    use_bias_correction: Bool = False
    use_triton: Bool = False
    warmup_init: Bool = False
    weight_decay: Float | None = None
    weight_lr_power: Float | None = None
    decoupled_decay: Bool = False
    fixed_decay: Bool = False
    rectify: Bool = False
    degenerated_to_sgd: Bool = False
    k: Int | None = None
    xi: Float | None = None
    n_sma_threshold: Int | None = None
    ams_bound: Bool = False
    adanorm: Bool = False
    adam_debias: Bool = False
    slice_p: Int | None = None
    cautious: Bool = False
    weight_decay_by_lr: Bool = True
    prodigy_steps: Int | None = None
    use_speed: Bool = False
    split_groups: Bool = True
    split_groups_mean: Bool = True
    factored: Bool = True
    factored_fp32: Bool = True
    use_stableadamw: Bool = True
    use_cautious: Bool = False
    use_grams: Bool = False
    use_adopt: Bool = False
    d_limiter: Bool | None = True
    use_schedulefree: Bool | None = True
    use_orthograd: Bool = False
    nnmf_factor: Bool = False
    orthogonal_gradient: Bool = False
    use_atan2: Bool = False
    use_AdEMAMix: Bool = False
    beta3_ema: Float | None = None
    alpha_grad: Float | None = None
    beta1_warmup: Int | None = None
    min_beta1: Float | None = None
    Simplified_AdEMAMix: Bool = False
    kourkoutas_beta: Bool = False
    schedulefree_c: Float | None = None
    ns_steps: Int | None = None
    MuonWithAuxAdam: Bool = False
    muon_hidden_layers: Str | None = None
    muon_adam_regex: Bool = False
    muon_adam_lr: Float | None = None
    muon_te1_adam_lr: Float | None = None
    muon_te2_adam_lr: Float | None = None
    muon_adam_config: dict[str, Any] | None = Field(default_factory=dict)
    rms_rescaling: Bool | None = True
    normuon_variant: Bool = False
    beta2_normuon: Float | None = None
    low_rank_ortho: Bool = False
    ortho_rank: Int | None = None
    accelerated_ns: Bool = False
    cautious_wd: Bool = False
    approx_mars: Bool = False
    auto_kappa_p: Bool = False
    compile: Bool = False


class ConceptImageConfig(OneTrainerConfig):
    """Image augmentations and resolution override of one concept (``image``)."""

    onetrainer_version: ClassVar[int] = 0

    enable_crop_jitter: Bool = True
    enable_random_flip: Bool = False
    enable_fixed_flip: Bool = False
    enable_random_rotate: Bool = False
    enable_fixed_rotate: Bool = False
    random_rotate_max_angle: Float = 0.0
    enable_random_brightness: Bool = False
    enable_fixed_brightness: Bool = False
    random_brightness_max_strength: Float = 0.0
    enable_random_contrast: Bool = False
    enable_fixed_contrast: Bool = False
    random_contrast_max_strength: Float = 0.0
    enable_random_saturation: Bool = False
    enable_fixed_saturation: Bool = False
    random_saturation_max_strength: Float = 0.0
    enable_random_hue: Bool = False
    enable_fixed_hue: Bool = False
    random_hue_max_strength: Float = 0.0
    enable_resolution_override: Bool = False
    resolution_override: Str = "512"
    enable_random_circular_mask_shrink: Bool = False
    enable_random_mask_rotate_crop: Bool = False


class ConceptTextConfig(OneTrainerConfig):
    """Where a concept's captions come from and how they are shuffled or dropped (``text``)."""

    onetrainer_version: ClassVar[int] = 0

    prompt_source: PromptSource = "sample"
    prompt_path: Str = ""
    enable_tag_shuffling: Bool = False
    tag_delimiter: Str = ","
    keep_tags_count: Int = 1
    tag_dropout_enable: Bool = False
    tag_dropout_mode: TagDropoutMode = "FULL"
    tag_dropout_probability: Float = 0.0
    tag_dropout_special_tags_mode: SpecialTagsMode = "NONE"
    tag_dropout_special_tags: Str = ""
    tag_dropout_special_tags_regex: Bool = False
    caps_randomize_enable: Bool = False
    caps_randomize_mode: Str = "capslock, title, first, random"
    caps_randomize_probability: Float = 0.0
    caps_randomize_lowercase: Bool = False


class ConceptConfig(OneTrainerConfig):
    """One entry of a concepts file: a folder of images and how to train on it.

    ``seed`` is part of OneTrainer's latent-cache key and OneTrainer draws a random one whenever it
    is missing; onelazy derives a stable one from ``name`` and ``path`` instead, and always writes it.
    """

    onetrainer_version: ClassVar[int] = 2

    @classmethod
    def _complete(cls, data: dict[str, Any]) -> dict[str, Any]:
        if "seed" not in data:
            data["seed"] = stable_concept_seed(str(data.get("name", "")), str(data.get("path", "")))
        return data

    image: ConceptImageConfig = Field(default_factory=ConceptImageConfig)
    text: ConceptTextConfig = Field(default_factory=ConceptTextConfig)
    name: Str = ""
    path: Str = ""
    seed: Int
    enabled: Bool = True
    type: ConceptType = ConceptType.STANDARD
    include_subdirectories: Bool = False
    image_variations: Int = 1
    text_variations: Int = 1
    balancing: Float = 1.0
    balancing_strategy: BalancingStrategy = BalancingStrategy.REPEATS
    loss_weight: Float = 1.0
    concept_stats: dict[str, Any] = Field(default_factory=dict)


class SampleConfig(OneTrainerConfig):
    """One sample image to render during training (an entry of a samples file or of ``samples``)."""

    onetrainer_version: ClassVar[int] = 0

    enabled: Bool = True
    prompt: Str = ""
    negative_prompt: Str = ""
    height: Int = 512
    width: Int = 512
    frames: Int = 1
    length: Float = 10.0
    seed: Int = 42
    random_seed: Bool = False
    diffusion_steps: Int = 30
    cfg_scale: Float = 7.0
    noise_scheduler: NoiseScheduler = NoiseScheduler.DDIM
    text_encoder_1_layer_skip: Int = 0
    text_encoder_1_sequence_length: Int | None = None
    text_encoder_2_layer_skip: Int = 0
    text_encoder_2_sequence_length: Int | None = None
    text_encoder_3_layer_skip: Int = 0
    text_encoder_4_layer_skip: Int = 0
    transformer_attention_mask: Bool = False
    force_last_timestep: Bool = False
    sample_inpainting: Bool = False
    base_image_path: Str = ""
    mask_image_path: Str = ""


class CloudSecretsConfig(OneTrainerConfig):
    """Credentials for remote training (``secrets.cloud``); never logged."""

    onetrainer_version: ClassVar[int] = 0

    api_key: Str = ""
    id: Str = ""
    host: Str = ""
    port: Port = 0
    user: Str = "root"
    key_file: Str = ""
    password: Str = ""


class SecretsConfig(OneTrainerConfig):
    """The content of ``secrets.json``: the Hugging Face token and cloud credentials."""

    onetrainer_version: ClassVar[int] = 0

    huggingface_token: Str = ""
    cloud: CloudSecretsConfig = Field(default_factory=CloudSecretsConfig)


class CloudConfig(OneTrainerConfig):
    """Remote training settings (``cloud``); with ``enabled`` OneTrainer trains on another machine."""

    onetrainer_version: ClassVar[int] = 0

    enabled: Bool = False
    type: CloudType = CloudType.RUNPOD
    file_sync: CloudFileSync = CloudFileSync.NATIVE_SCP
    create: Bool = False
    name: Str = "OneTrainer"
    tensorboard_tunnel: Bool = True
    sub_type: Str = ""
    gpu_type: Str = ""
    volume_size: Int = 100
    min_download: Int = 0
    remote_dir: Str = "/workspace"
    huggingface_cache_dir: Str = "/workspace/huggingface_cache"
    onetrainer_dir: Str = "/workspace/OneTrainer"
    install_cmd: Str = "git clone https://github.com/Nerogar/OneTrainer"
    install_onetrainer: Bool = True
    update_onetrainer: Bool = True
    detach_trainer: Bool = False
    run_id: Str = "job1"
    download_samples: Bool = True
    download_output_model: Bool = True
    download_saves: Bool = True
    download_backups: Bool = False
    download_tensorboard: Bool = False
    delete_workspace: Bool = False
    on_finish: CloudAction = CloudAction.NONE
    on_error: CloudAction = CloudAction.NONE
    on_detached_finish: CloudAction = CloudAction.NONE
    on_detached_error: CloudAction = CloudAction.NONE


# --------------------------------------------------------------------------- defaults that need code


def default_part_config(part: str) -> TrainModelPartConfig:
    """TrainConfig's default for the model part ``part`` (e.g. text encoders stop after 30 epochs)."""
    return TrainModelPartConfig.model_validate(_PART_OVERRIDES.get(part, {}))


def default_embedding_config() -> TrainEmbeddingConfig:
    """TrainConfig's default ``embedding``, with a stable uuid."""
    return TrainEmbeddingConfig.model_validate({})


class TrainConfig(OneTrainerConfig):
    """A whole OneTrainer training config (``--config-path``), config version 11."""

    onetrainer_version: ClassVar[int] = 11

    @classmethod
    def _complete(cls, data: dict[str, Any]) -> dict[str, Any]:
        for part, overrides in _PART_OVERRIDES.items():
            given = data.get(part)
            if isinstance(given, dict):
                data[part] = {**overrides, **given}
        return data

    training_method: TrainingMethod = TrainingMethod.FINE_TUNE
    model_type: ModelType = ModelType.STABLE_DIFFUSION_15
    debug_mode: Bool = False
    debug_dir: Str = "debug"
    workspace_dir: Str = "workspace/run"
    cache_dir: Str = "workspace-cache/run"
    huggingface_cache_dir: Str = ""
    offline_mode: Bool = False
    tensorboard: Bool = True
    tensorboard_expose: Bool = False
    tensorboard_always_on: Bool = False
    tensorboard_port: Int = 6006
    validation: Bool = False
    validate_after: Int = 1
    validate_after_unit: TimeUnit = TimeUnit.EPOCH
    continue_last_backup: Bool = False
    prevent_overwrites: Bool = False
    include_train_config: ConfigPart = ConfigPart.NONE
    multi_gpu: Bool = False
    device_indexes: Str = ""
    gradient_reduce_precision: GradientReducePrecision = GradientReducePrecision.FLOAT_32_STOCHASTIC
    fused_gradient_reduce: Bool = True
    async_gradient_reduce: Bool = True
    async_gradient_reduce_buffer: Int = 100
    base_model_name: Str = "stable-diffusion-v1-5/stable-diffusion-v1-5"
    output_dtype: DataType = DataType.FLOAT_32
    output_model_format: ModelFormat = ModelFormat.SAFETENSORS
    output_model_destination: Str = "models/model.safetensors"
    async_offloading: Bool = True
    force_circular_padding: Bool = False
    compile: Bool = False
    concept_file_name: Str = "training_concepts/concepts.json"
    concepts: list[ConceptConfig] | None = None
    aspect_ratio_bucketing: Bool = True
    latent_caching: Bool = True
    clear_cache_before_training: Bool = True
    learning_rate_scheduler: LearningRateScheduler = LearningRateScheduler.CONSTANT
    custom_learning_rate_scheduler: Str | None = None
    scheduler_params: list[dict[str, Str]] | None = Field(default_factory=list)
    learning_rate: Float = 3e-06
    learning_rate_warmup_steps: Float = 200.0
    learning_rate_cycles: Float = 1.0
    learning_rate_min_factor: Float = 0.0
    epochs: Int = 100
    batch_size: Int = 1
    gradient_accumulation_steps: Int = 1
    ema: EMAMode = EMAMode.OFF
    ema_decay: Float = 0.999
    ema_update_step_interval: Int = 5
    dataloader_threads: Int = 2
    train_device: Str = "cuda"
    temp_device: Str = "cpu"
    train_dtype: DataType = DataType.FLOAT_16
    fallback_train_dtype: DataType = DataType.BFLOAT_16
    enable_autocast_cache: Bool = True
    only_cache: Bool = False
    resolution: Str = "512"
    frames: Str = "25"
    attention_mechanism: AttentionMechanism = AttentionMechanism.SDP
    mse_strength: Float = 1.0
    mae_strength: Float = 0.0
    log_cosh_strength: Float = 0.0
    huber_strength: Float = 0.0
    huber_delta: Float = 1.0
    vb_loss_strength: Float = 1.0
    loss_weight_fn: LossWeight = LossWeight.CONSTANT
    loss_weight_strength: Float = 5.0
    dropout_probability: Float = 0.0
    loss_scaler: LossScaler = LossScaler.NONE
    learning_rate_scaler: LearningRateScaler = LearningRateScaler.NONE
    clip_grad_norm: Float | None = 1.0
    offset_noise_weight: Float = 0.0
    generalized_offset_noise: Bool = False
    perturbation_noise_weight: Float = 0.0
    rescale_noise_scheduler_to_zero_terminal_snr: Bool = False
    force_v_prediction: Bool = False
    force_epsilon_prediction: Bool = False
    min_noising_strength: Float = 0.0
    max_noising_strength: Float = 1.0
    timestep_distribution: TimestepDistribution = TimestepDistribution.UNIFORM
    noising_weight: Float = 0.0
    noising_bias: Float = 0.0
    timestep_shift: Float = 1.0
    dynamic_timestep_shifting: Bool = False
    unet: TrainModelPartConfig = Field(default_factory=partial(default_part_config, "unet"))
    prior: TrainModelPartConfig = Field(default_factory=partial(default_part_config, "prior"))
    transformer: TrainModelPartConfig = Field(default_factory=partial(default_part_config, "transformer"))
    unconditional_transformer: TrainModelPartConfig = Field(
        default_factory=partial(default_part_config, "unconditional_transformer")
    )
    quantization: QuantizationConfig = Field(default_factory=QuantizationConfig)
    text_encoder: TrainModelPartConfig = Field(default_factory=partial(default_part_config, "text_encoder"))
    text_encoder_layer_skip: Int = 0
    text_encoder_sequence_length: Int | None = 512
    text_encoder_2: TrainModelPartConfig = Field(
        default_factory=partial(default_part_config, "text_encoder_2")
    )
    text_encoder_2_layer_skip: Int = 0
    text_encoder_2_sequence_length: Int | None = 77
    text_encoder_3: TrainModelPartConfig = Field(
        default_factory=partial(default_part_config, "text_encoder_3")
    )
    text_encoder_3_layer_skip: Int = 0
    text_encoder_4: TrainModelPartConfig = Field(
        default_factory=partial(default_part_config, "text_encoder_4")
    )
    text_encoder_4_layer_skip: Int = 0
    vae: TrainModelPartConfig = Field(default_factory=partial(default_part_config, "vae"))
    effnet_encoder: TrainModelPartConfig = Field(
        default_factory=partial(default_part_config, "effnet_encoder")
    )
    decoder: TrainModelPartConfig = Field(default_factory=partial(default_part_config, "decoder"))
    decoder_text_encoder: TrainModelPartConfig = Field(
        default_factory=partial(default_part_config, "decoder_text_encoder")
    )
    decoder_vqgan: TrainModelPartConfig = Field(default_factory=partial(default_part_config, "decoder_vqgan"))
    masked_training: Bool = False
    unmasked_probability: Float = 0.1
    unmasked_weight: Float = 0.1
    normalize_masked_area_loss: Bool = False
    masked_prior_preservation_weight: Float = 0.0
    custom_conditioning_image: Bool = False
    layer_filter: Str = ""
    layer_filter_preset: Str = "full"
    layer_filter_regex: Bool = False
    embedding_learning_rate: Float | None = None
    preserve_embedding_norm: Bool = False
    embedding: TrainEmbeddingConfig = Field(default_factory=default_embedding_config)
    additional_embeddings: list[TrainEmbeddingConfig] = Field(default_factory=list)
    embedding_weight_dtype: DataType = DataType.FLOAT_32
    cloud: CloudConfig = Field(default_factory=CloudConfig)
    peft_type: PeftType = PeftType.LORA
    lora_model_name: Str = ""
    lora_rank: Int = 16
    lora_alpha: Float = 1.0
    lora_decompose: Bool = False
    lora_decompose_norm_epsilon: Bool = True
    lora_decompose_output_axis: Bool = False
    lora_weight_dtype: DataType = DataType.FLOAT_32
    bundle_additional_embeddings: Bool = True
    oft_block_size: Int = 32
    oft_block_share: Bool = False
    oft_scaled: Bool = False
    lokr_dim: Int = 16
    lokr_decompose_both: Bool = False
    lokr_decompose_factor: Int = -1
    lokr_use_tucker: Bool = False
    lokr_weight_decompose: Bool = False
    lokr_dora_on_output: Bool = True
    lokr_full_matrix: Bool = False
    lokr_vec_trick: Bool = True
    optimizer: TrainOptimizerConfig = Field(default_factory=TrainOptimizerConfig)
    optimizer_defaults: dict[str, TrainOptimizerConfig] = Field(default_factory=dict)
    sample_definition_file_name: Str = "training_samples/samples.json"
    samples: list[SampleConfig] | None = None
    sample_after: Int = 10
    sample_after_unit: TimeUnit = TimeUnit.MINUTE
    sample_skip_first: Int = 0
    sample_image_format: ImageFormat = ImageFormat.JPG
    sample_video_format: VideoFormat = VideoFormat.MP4
    sample_audio_format: AudioFormat = AudioFormat.MP3
    samples_to_tensorboard: Bool = True
    non_ema_sampling: Bool = True
    backup_after: Int = 30
    backup_after_unit: TimeUnit = TimeUnit.MINUTE
    rolling_backup: Bool = False
    rolling_backup_count: Int = 3
    backup_before_save: Bool = True
    save_every: Int = 0
    save_every_unit: TimeUnit = TimeUnit.NEVER
    save_skip_first: Int = 0
    save_filename_prefix: Str = ""
    secrets: SecretsConfig = Field(default_factory=SecretsConfig)
