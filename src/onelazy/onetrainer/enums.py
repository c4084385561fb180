"""Every enum OneTrainer's config files use, with all members (OneTrainer's current config version).

Config JSON stores a member by its NAME; for every OneTrainer enum the name equals the value, so
``Optimizer("ADAMW") is Optimizer.ADAMW``. Members are matched case-sensitively, as OneTrainer does.
The sets at the end group members the way OneTrainer's own helper methods do.
"""

from __future__ import annotations

from enum import Enum


class AttentionMechanism(str, Enum):
    """OneTrainer's ``AttentionMechanism``."""

    SDP = "SDP"
    FLASH = "FLASH"
    CUDNN = "CUDNN"
    FLEX = "FLEX"


class AudioFormat(str, Enum):
    """OneTrainer's ``AudioFormat``."""

    MP3 = "MP3"


class BalancingStrategy(str, Enum):
    """OneTrainer's ``BalancingStrategy``."""

    REPEATS = "REPEATS"
    SAMPLES = "SAMPLES"


class CloudAction(str, Enum):
    """OneTrainer's ``CloudAction``."""

    NONE = "NONE"
    STOP = "STOP"
    DELETE = "DELETE"


class CloudFileSync(str, Enum):
    """OneTrainer's ``CloudFileSync``."""

    FABRIC_SFTP = "FABRIC_SFTP"
    NATIVE_SCP = "NATIVE_SCP"


class CloudType(str, Enum):
    """OneTrainer's ``CloudType``."""

    RUNPOD = "RUNPOD"
    LINUX = "LINUX"


class ConceptType(str, Enum):
    """OneTrainer's ``ConceptType``."""

    STANDARD = "STANDARD"
    VALIDATION = "VALIDATION"
    PRIOR_PREDICTION = "PRIOR_PREDICTION"


class ConfigPart(str, Enum):
    """OneTrainer's ``ConfigPart``."""

    NONE = "NONE"
    SETTINGS = "SETTINGS"
    ALL = "ALL"


class DataType(str, Enum):
    """OneTrainer's ``DataType``."""

    NONE = "NONE"
    FLOAT_8 = "FLOAT_8"
    FLOAT_16 = "FLOAT_16"
    FLOAT_32 = "FLOAT_32"
    BFLOAT_16 = "BFLOAT_16"
    TFLOAT_32 = "TFLOAT_32"
    INT_8 = "INT_8"
    NFLOAT_4 = "NFLOAT_4"
    FLOAT_W8A8 = "FLOAT_W8A8"
    INT_W8A8 = "INT_W8A8"
    FLOAT_W8A8_COMPRESSED = "FLOAT_W8A8_COMPRESSED"
    INT_W8A8_COMPRESSED = "INT_W8A8_COMPRESSED"
    GGUF = "GGUF"
    GGUF_A8_FLOAT = "GGUF_A8_FLOAT"
    GGUF_A8_INT = "GGUF_A8_INT"


class EMAMode(str, Enum):
    """OneTrainer's ``EMAMode``."""

    OFF = "OFF"
    GPU = "GPU"
    CPU = "CPU"


class FileType(str, Enum):
    """OneTrainer's ``FileType``."""

    IMAGE = "IMAGE"
    VIDEO = "VIDEO"
    AUDIO = "AUDIO"


class GenerateCaptionsModel(str, Enum):
    """OneTrainer's ``GenerateCaptionsModel``."""

    BLIP = "BLIP"
    BLIP2 = "BLIP2"
    WD14_VIT_2 = "WD14_VIT_2"


class GenerateMasksModel(str, Enum):
    """OneTrainer's ``GenerateMasksModel``."""

    CLIPSEG = "CLIPSEG"
    REMBG = "REMBG"
    REMBG_HUMAN = "REMBG_HUMAN"
    COLOR = "COLOR"


class GradientReducePrecision(str, Enum):
    """OneTrainer's ``GradientReducePrecision``."""

    WEIGHT_DTYPE = "WEIGHT_DTYPE"
    FLOAT_32 = "FLOAT_32"
    WEIGHT_DTYPE_STOCHASTIC = "WEIGHT_DTYPE_STOCHASTIC"
    FLOAT_32_STOCHASTIC = "FLOAT_32_STOCHASTIC"


class ImageFormat(str, Enum):
    """OneTrainer's ``ImageFormat``."""

    PNG = "PNG"
    JPG = "JPG"


class LearningRateScaler(str, Enum):
    """OneTrainer's ``LearningRateScaler``."""

    NONE = "NONE"
    BATCH = "BATCH"
    GLOBAL_BATCH = "GLOBAL_BATCH"
    GRADIENT_ACCUMULATION = "GRADIENT_ACCUMULATION"
    BOTH = "BOTH"
    GLOBAL_BOTH = "GLOBAL_BOTH"


class LearningRateScheduler(str, Enum):
    """OneTrainer's ``LearningRateScheduler``."""

    CONSTANT = "CONSTANT"
    LINEAR = "LINEAR"
    COSINE = "COSINE"
    COSINE_WITH_RESTARTS = "COSINE_WITH_RESTARTS"
    COSINE_WITH_HARD_RESTARTS = "COSINE_WITH_HARD_RESTARTS"
    REX = "REX"
    ADAFACTOR = "ADAFACTOR"
    CUSTOM = "CUSTOM"


class LossScaler(str, Enum):
    """OneTrainer's ``LossScaler``."""

    NONE = "NONE"
    BATCH = "BATCH"
    GLOBAL_BATCH = "GLOBAL_BATCH"
    GRADIENT_ACCUMULATION = "GRADIENT_ACCUMULATION"
    BOTH = "BOTH"
    GLOBAL_BOTH = "GLOBAL_BOTH"


class LossWeight(str, Enum):
    """OneTrainer's ``LossWeight``."""

    CONSTANT = "CONSTANT"
    P2 = "P2"
    MIN_SNR_GAMMA = "MIN_SNR_GAMMA"
    DEBIASED_ESTIMATION = "DEBIASED_ESTIMATION"
    SIGMA = "SIGMA"


class ModelFormat(str, Enum):
    """OneTrainer's ``ModelFormat``."""

    DIFFUSERS = "DIFFUSERS"
    ORIGINAL_SINGLE_FILE = "ORIGINAL_SINGLE_FILE"
    ORIGINAL_TRANSFORMER = "ORIGINAL_TRANSFORMER"
    COMFY_TRANSFORMER = "COMFY_TRANSFORMER"
    LEGACY_SAFETENSORS = "LEGACY_SAFETENSORS"
    DIFFUSERS_LORA = "DIFFUSERS_LORA"
    KOHYA_LORA = "KOHYA_LORA"
    ORIGINAL_LORA = "ORIGINAL_LORA"
    COMFY_LORA = "COMFY_LORA"
    LEGACY_LORA = "LEGACY_LORA"
    SAFETENSORS = "SAFETENSORS"
    INTERNAL = "INTERNAL"


class ModelType(str, Enum):
    """OneTrainer's ``ModelType``."""

    STABLE_DIFFUSION_15 = "STABLE_DIFFUSION_15"
    STABLE_DIFFUSION_15_INPAINTING = "STABLE_DIFFUSION_15_INPAINTING"
    STABLE_DIFFUSION_20 = "STABLE_DIFFUSION_20"
    STABLE_DIFFUSION_20_BASE = "STABLE_DIFFUSION_20_BASE"
    STABLE_DIFFUSION_20_INPAINTING = "STABLE_DIFFUSION_20_INPAINTING"
    STABLE_DIFFUSION_20_DEPTH = "STABLE_DIFFUSION_20_DEPTH"
    STABLE_DIFFUSION_21 = "STABLE_DIFFUSION_21"
    STABLE_DIFFUSION_21_BASE = "STABLE_DIFFUSION_21_BASE"
    STABLE_DIFFUSION_3 = "STABLE_DIFFUSION_3"
    STABLE_DIFFUSION_35 = "STABLE_DIFFUSION_35"
    STABLE_DIFFUSION_XL_10_BASE = "STABLE_DIFFUSION_XL_10_BASE"
    STABLE_DIFFUSION_XL_10_BASE_INPAINTING = "STABLE_DIFFUSION_XL_10_BASE_INPAINTING"
    WUERSTCHEN_2 = "WUERSTCHEN_2"
    STABLE_CASCADE_1 = "STABLE_CASCADE_1"
    PIXART_ALPHA = "PIXART_ALPHA"
    PIXART_SIGMA = "PIXART_SIGMA"
    FLUX_DEV_1 = "FLUX_DEV_1"
    FLUX_FILL_DEV_1 = "FLUX_FILL_DEV_1"
    FLUX_2 = "FLUX_2"
    SANA = "SANA"
    HUNYUAN_VIDEO = "HUNYUAN_VIDEO"
    HI_DREAM_FULL = "HI_DREAM_FULL"
    CHROMA_1 = "CHROMA_1"
    QWEN = "QWEN"
    ANIMA = "ANIMA"
    KREA_2 = "KREA_2"
    Z_IMAGE = "Z_IMAGE"
    ERNIE = "ERNIE"
    IDEOGRAM_4 = "IDEOGRAM_4"


class NoiseScheduler(str, Enum):
    """OneTrainer's ``NoiseScheduler``."""

    DDIM = "DDIM"
    EULER = "EULER"
    EULER_A = "EULER_A"
    DPMPP = "DPMPP"
    DPMPP_SDE = "DPMPP_SDE"
    UNIPC = "UNIPC"
    EULER_KARRAS = "EULER_KARRAS"
    DPMPP_KARRAS = "DPMPP_KARRAS"
    DPMPP_SDE_KARRAS = "DPMPP_SDE_KARRAS"
    UNIPC_KARRAS = "UNIPC_KARRAS"


class Optimizer(str, Enum):
    """OneTrainer's ``Optimizer``."""

    ADAGRAD = "ADAGRAD"
    ADAGRAD_8BIT = "ADAGRAD_8BIT"
    ADAM = "ADAM"
    ADAM_8BIT = "ADAM_8BIT"
    ADAMW = "ADAMW"
    ADAMW_8BIT = "ADAMW_8BIT"
    ADAMW_ADV = "ADAMW_ADV"
    AdEMAMix = "AdEMAMix"
    AdEMAMix_8BIT = "AdEMAMix_8BIT"
    ADOPT = "ADOPT"
    ADOPT_ADV = "ADOPT_ADV"
    LAMB = "LAMB"
    LAMB_8BIT = "LAMB_8BIT"
    LARS = "LARS"
    LARS_8BIT = "LARS_8BIT"
    LION = "LION"
    LION_8BIT = "LION_8BIT"
    LION_ADV = "LION_ADV"
    RMSPROP = "RMSPROP"
    RMSPROP_8BIT = "RMSPROP_8BIT"
    SGD = "SGD"
    SGD_8BIT = "SGD_8BIT"
    SIGNSGD_ADV = "SIGNSGD_ADV"
    SCHEDULE_FREE_ADAMW = "SCHEDULE_FREE_ADAMW"
    SCHEDULE_FREE_SGD = "SCHEDULE_FREE_SGD"
    DADAPT_ADA_GRAD = "DADAPT_ADA_GRAD"
    DADAPT_ADAM = "DADAPT_ADAM"
    DADAPT_ADAN = "DADAPT_ADAN"
    DADAPT_LION = "DADAPT_LION"
    DADAPT_SGD = "DADAPT_SGD"
    PRODIGY = "PRODIGY"
    PRODIGY_PLUS_SCHEDULE_FREE = "PRODIGY_PLUS_SCHEDULE_FREE"
    PRODIGY_ADV = "PRODIGY_ADV"
    ADAFACTOR = "ADAFACTOR"
    CAME = "CAME"
    CAME_8BIT = "CAME_8BIT"
    MUON = "MUON"
    MUON_ADV = "MUON_ADV"
    ADAMUON_ADV = "ADAMUON_ADV"
    ADABELIEF = "ADABELIEF"
    TIGER = "TIGER"
    AIDA = "AIDA"
    YOGI = "YOGI"


class PathIOType(str, Enum):
    """OneTrainer's ``PathIOType``."""

    INPUT = "INPUT"
    OUTPUT = "OUTPUT"
    MODEL = "MODEL"


class PeftType(str, Enum):
    """OneTrainer's ``PeftType``."""

    LORA = "LORA"
    LOHA = "LOHA"
    OFT_2 = "OFT_2"
    LOKR = "LOKR"


class TimeUnit(str, Enum):
    """OneTrainer's ``TimeUnit``."""

    EPOCH = "EPOCH"
    STEP = "STEP"
    SECOND = "SECOND"
    MINUTE = "MINUTE"
    HOUR = "HOUR"
    NEVER = "NEVER"
    ALWAYS = "ALWAYS"


class TimestepDistribution(str, Enum):
    """OneTrainer's ``TimestepDistribution``."""

    UNIFORM = "UNIFORM"
    SIGMOID = "SIGMOID"
    LOGIT_NORMAL = "LOGIT_NORMAL"
    HEAVY_TAIL = "HEAVY_TAIL"
    COS_MAP = "COS_MAP"
    INVERTED_PARABOLA = "INVERTED_PARABOLA"
    BETA = "BETA"


class TrainingMethod(str, Enum):
    """OneTrainer's ``TrainingMethod``."""

    FINE_TUNE = "FINE_TUNE"
    LORA = "LORA"
    EMBEDDING = "EMBEDDING"
    FINE_TUNE_VAE = "FINE_TUNE_VAE"


class VideoFormat(str, Enum):
    """OneTrainer's ``VideoFormat``."""

    PNG_IMAGE_SEQUENCE = "PNG_IMAGE_SEQUENCE"
    JPG_IMAGE_SEQUENCE = "JPG_IMAGE_SEQUENCE"
    MP4 = "MP4"


# --------------------------------------------------------------------------- groups of members

#: Optimizers that estimate their own step size; OneTrainer expects a learning rate near 1.0 with them.
ADAPTIVE_OPTIMIZERS: frozenset[Optimizer] = frozenset(
    {
        Optimizer.DADAPT_ADA_GRAD,
        Optimizer.DADAPT_ADAM,
        Optimizer.DADAPT_ADAN,
        Optimizer.DADAPT_LION,
        Optimizer.DADAPT_SGD,
        Optimizer.PRODIGY,
        Optimizer.PRODIGY_PLUS_SCHEDULE_FREE,
        Optimizer.PRODIGY_ADV,
    }
)

#: Schedule-free optimizers: OneTrainer forces the CONSTANT scheduler and ignores warmup for them.
SCHEDULE_FREE_OPTIMIZERS: frozenset[Optimizer] = frozenset(
    {Optimizer.SCHEDULE_FREE_ADAMW, Optimizer.SCHEDULE_FREE_SGD, Optimizer.PRODIGY_PLUS_SCHEDULE_FREE}
)

#: Optimizers that can step during the backward pass (needed for layer offloading when fine-tuning).
FUSED_BACK_PASS_OPTIMIZERS: frozenset[Optimizer] = frozenset(
    {
        Optimizer.ADAM,
        Optimizer.ADAMW,
        Optimizer.ADAMW_ADV,
        Optimizer.ADOPT_ADV,
        Optimizer.LION_ADV,
        Optimizer.SIGNSGD_ADV,
        Optimizer.PRODIGY_PLUS_SCHEDULE_FREE,
        Optimizer.PRODIGY_ADV,
        Optimizer.ADAFACTOR,
        Optimizer.CAME,
        Optimizer.CAME_8BIT,
        Optimizer.MUON_ADV,
        Optimizer.ADAMUON_ADV,
    }
)

#: Weight dtypes that quantize a model part.
QUANTIZED_DATA_TYPES: frozenset[DataType] = frozenset(
    {
        DataType.FLOAT_8,
        DataType.INT_8,
        DataType.NFLOAT_4,
        DataType.FLOAT_W8A8,
        DataType.INT_W8A8,
        DataType.FLOAT_W8A8_COMPRESSED,
        DataType.INT_W8A8_COMPRESSED,
    }
)

#: Weight dtypes that mean "the part is a GGUF file".
GGUF_DATA_TYPES: frozenset[DataType] = frozenset(
    {DataType.GGUF, DataType.GGUF_A8_FLOAT, DataType.GGUF_A8_INT}
)

#: Units measured on the wall clock; with these an interval of 0 means "every step".
WALL_CLOCK_UNITS: frozenset[TimeUnit] = frozenset({TimeUnit.SECOND, TimeUnit.MINUTE, TimeUnit.HOUR})

#: Loss weightings the UI offers for flow-matching models.
FLOW_MATCHING_LOSS_WEIGHTS: frozenset[LossWeight] = frozenset({LossWeight.CONSTANT, LossWeight.SIGMA})

#: Output formats that hold a LoRA (every other format is a full model, an embedding or a backup).
LORA_FORMATS: frozenset[ModelFormat] = frozenset(
    {
        ModelFormat.DIFFUSERS_LORA,
        ModelFormat.KOHYA_LORA,
        ModelFormat.ORIGINAL_LORA,
        ModelFormat.COMFY_LORA,
        ModelFormat.LEGACY_LORA,
    }
)

#: LoRA formats whose adapters are built on fused qkv layers (resuming with another family fails).
QKV_FUSED_FORMATS: frozenset[ModelFormat] = frozenset(
    {ModelFormat.KOHYA_LORA, ModelFormat.ORIGINAL_LORA, ModelFormat.COMFY_LORA}
)

#: Formats written as a directory rather than one ``.safetensors`` file.
DIRECTORY_FORMATS: frozenset[ModelFormat] = frozenset({ModelFormat.DIFFUSERS, ModelFormat.INTERNAL})


def file_extension(model_format: ModelFormat) -> str:
    """The extension OneTrainer gives a save in ``model_format`` ("" for directory formats)."""
    return "" if model_format in DIRECTORY_FORMATS else ".safetensors"


#: Every enum class by its OneTrainer name.
ALL_ENUMS: dict[str, type[Enum]] = {
    "AttentionMechanism": AttentionMechanism,
    "AudioFormat": AudioFormat,
    "BalancingStrategy": BalancingStrategy,
    "CloudAction": CloudAction,
    "CloudFileSync": CloudFileSync,
    "CloudType": CloudType,
    "ConceptType": ConceptType,
    "ConfigPart": ConfigPart,
    "DataType": DataType,
    "EMAMode": EMAMode,
    "FileType": FileType,
    "GenerateCaptionsModel": GenerateCaptionsModel,
    "GenerateMasksModel": GenerateMasksModel,
    "GradientReducePrecision": GradientReducePrecision,
    "ImageFormat": ImageFormat,
    "LearningRateScaler": LearningRateScaler,
    "LearningRateScheduler": LearningRateScheduler,
    "LossScaler": LossScaler,
    "LossWeight": LossWeight,
    "ModelFormat": ModelFormat,
    "ModelType": ModelType,
    "NoiseScheduler": NoiseScheduler,
    "Optimizer": Optimizer,
    "PathIOType": PathIOType,
    "PeftType": PeftType,
    "TimeUnit": TimeUnit,
    "TimestepDistribution": TimestepDistribution,
    "TrainingMethod": TrainingMethod,
    "VideoFormat": VideoFormat,
}
