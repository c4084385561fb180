"""Model families: the kinds of base model onelazy has a recipe for, each a first-class value.

A family ties together what the stages need to agree on: which OneTrainer model types belong to it,
its presets (``lazy-<family>[-<tier>]`` and ``nonlazy-<family>[-<tier>]``, one per memory tier
OneTrainer has a preset for), the plan's default steps per image, the names an SDXL user knows a
derivative by, and how a base model of the family is recognised (a diffusers folder's pipeline
class, a single-file checkpoint's keys). Pure data and lookups, no I/O.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from onelazy.plan import DEFAULT_STEPS_PER_IMAGE_SD15, DEFAULT_STEPS_PER_IMAGE_SDXL

#: Preset names the families own: the recipe, the family key, and an optional memory tier.
_PRESET_NAME = re.compile(r"^(?P<recipe>lazy|nonlazy)-(?P<family>[a-z0-9-]+?)(?:-(?P<tier>\d+)gb)?$")


@dataclass(frozen=True)
class Family:
    """One model family and the facts the stages share about it."""

    key: str
    """Short name used in preset names (``flux1`` in ``lazy-flux1``)."""
    label: str
    """What a person calls it."""
    model_types: tuple[str, ...]
    """OneTrainer model types (enum member names) a config of this family may have."""
    tiers: tuple[int, ...]
    """The memory tiers in GB OneTrainer has a LoRA preset for; empty = one preset for all."""
    steps_per_image: int
    """The plan's default when the person names no target."""
    steps_why: str
    pipelines: tuple[str, ...]
    """diffusers pipeline class names (``_class_name`` in ``model_index.json``) of the family."""
    derivatives: tuple[str, ...] = ()
    """Well-known fine-tunes that are this family for training purposes."""
    default_tier: int | None = None
    """The tier ``onelazy init`` picks when none is named."""

    @property
    def display(self) -> str:
        """The label with the derivatives a person may know the family by."""
        return f"{self.label} ({', '.join(self.derivatives)})" if self.derivatives else self.label

    def preset(self, recipe: str = "lazy", tier: int | None = None) -> str:
        """The preset name for ``recipe`` (``lazy`` or ``nonlazy``) at ``tier`` GB (default tier if None)."""
        if not self.tiers:
            return f"{recipe}-{self.key}"
        chosen = tier if tier is not None else (self.default_tier or self.tiers[0])
        return f"{recipe}-{self.key}-{chosen}gb"

    def preset_names(self) -> list[str]:
        """Every preset of the family: lazy then careful, each by tier."""
        tiers: tuple[int | None, ...] = self.tiers or (None,)
        return [self.preset(recipe, tier) for recipe in ("lazy", "nonlazy") for tier in tiers]


_SDXL_SIZED = (
    "about 100 views per image, as for SDXL: these models are at least SDXL's size and learn a "
    "subject at a similar pace (2,000 steps at batch 1 on 20 images is the common figure for their "
    "subject LoRAs)"
)

_FLUX2_STEPS = (
    _SDXL_SIZED + "; OneTrainer's Flux.2 rate is ten times lower than its others, so watch the 125 % save"
)

FAMILIES: tuple[Family, ...] = (
    Family(
        "sd15", "SD 1.5", ("STABLE_DIFFUSION_15",), (), DEFAULT_STEPS_PER_IMAGE_SD15,
        "40 views per image: SD 1.5's small UNet learns a subject fast and overfits soon after",
        ("StableDiffusionPipeline",),
    ),
    Family(
        "sdxl", "SDXL", ("STABLE_DIFFUSION_XL_10_BASE",), (), DEFAULT_STEPS_PER_IMAGE_SDXL,
        "100 views per image: SDXL's larger UNet needs about twice SD 1.5's exposure per image",
        ("StableDiffusionXLPipeline",),
        derivatives=("Illustrious", "NoobAI", "Pony"),
    ),
    Family(
        "sd3", "SD 3", ("STABLE_DIFFUSION_3",), (), DEFAULT_STEPS_PER_IMAGE_SDXL, _SDXL_SIZED,
        ("StableDiffusion3Pipeline",),
    ),
    Family(
        "sd35", "SD 3.5", ("STABLE_DIFFUSION_35",), (), DEFAULT_STEPS_PER_IMAGE_SDXL, _SDXL_SIZED,
        ("StableDiffusion3Pipeline",),
    ),
    Family(
        "flux1", "Flux.1 dev", ("FLUX_DEV_1",), (), DEFAULT_STEPS_PER_IMAGE_SDXL, _SDXL_SIZED,
        ("FluxPipeline",),
    ),
    Family(
        "flux2", "Flux.2 (Dev, Klein)", ("FLUX_2",), (8, 16), DEFAULT_STEPS_PER_IMAGE_SDXL, _FLUX2_STEPS,
        ("Flux2Pipeline", "Flux2KleinPipeline"), default_tier=16,
    ),
    Family(
        "chroma", "Chroma", ("CHROMA_1",), (8, 16, 24), DEFAULT_STEPS_PER_IMAGE_SDXL, _SDXL_SIZED,
        ("ChromaPipeline",), default_tier=16,
    ),
    Family(
        "zimage", "Z-Image", ("Z_IMAGE",), (8, 16), DEFAULT_STEPS_PER_IMAGE_SDXL, _SDXL_SIZED,
        ("ZImagePipeline",), default_tier=16,
    ),
    Family(
        "zimage-deturbo", "Z-Image DeTurbo (for Z-Image-Turbo)", ("Z_IMAGE",), (8, 16),
        DEFAULT_STEPS_PER_IMAGE_SDXL, _SDXL_SIZED, ("ZImagePipeline",), default_tier=16,
    ),
    Family(
        "qwen", "Qwen-Image", ("QWEN",), (16, 24), DEFAULT_STEPS_PER_IMAGE_SDXL, _SDXL_SIZED,
        ("QwenImagePipeline",), default_tier=16,
    ),
)

_BY_KEY = {family.key: family for family in FAMILIES}


def family(key: str) -> Family:
    """The family named ``key``; KeyError if there is none."""
    return _BY_KEY[key]


def family_keys() -> list[str]:
    return [family.key for family in FAMILIES]


def family_of_preset(name: str) -> Family | None:
    """The family a onelazy preset belongs to, from its name (None for presets of no family)."""
    match = _PRESET_NAME.match(name)
    if match is not None and match["family"] in _BY_KEY:
        return _BY_KEY[match["family"]]
    for candidate in FAMILIES:
        if name.startswith(f"{candidate.key}-"):  # sd15-lora, sdxl-lora: OneTrainer's UI presets
            return candidate
    return None


def family_of_model_type(model_type: str) -> Family | None:
    """The first family whose model types include ``model_type`` (Z-Image gives plain Z-Image)."""
    for candidate in FAMILIES:
        if model_type in candidate.model_types:
            return candidate
    return None


def families_of_pipeline(class_name: str) -> list[Family]:
    """Every family a diffusers pipeline class belongs to (SD 3 and 3.5 share one class)."""
    return [candidate for candidate in FAMILIES if class_name in candidate.pipelines]


# --------------------------------------------------------------------------- which family a base model is

#: Tensor-name fragments of single-file checkpoints, most specific first: (fragment, family keys).
#: A file matches the first row whose fragment one of its tensor names contains. Where diffusers'
#: single-file loader recognises the family, the fragment is the tensor name it looks for
#: (Chroma, Flux.2, Flux.1, SD 3, Z-Image, SDXL, SD 1.x); Qwen-Image it does not list.
_KEY_LAYOUTS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("distilled_guidance_layer.", ("chroma",)),  # Chroma: Flux's blocks with a guidance approximator
    ("single_stream_modulation.", ("flux2",)),  # Flux.2: modulation shared across blocks
    ("double_stream_modulation_img.", ("flux2",)),
    ("double_blocks.0.img_attn.", ("flux1",)),  # Flux.1 (original layout)
    ("joint_blocks.0.", ("sd3", "sd35")),  # SD 3 / 3.5 MMDiT
    ("txt_norm.", ("qwen",)),  # Qwen-Image
    # Z-Image: its adaLN is one Linear (Lumina 2, which shares its cap_embedder, has SiLU then Linear)
    ("layers.0.adaLN_modulation.0.", ("zimage", "zimage-deturbo")),
    ("conditioner.embedders.1.", ("sdxl",)),  # SDXL: two text encoders under conditioner
    ("cond_stage_model.transformer.", ("sd15",)),  # SD 1.x: one CLIP text encoder
)
#: The most a safetensors header may be: a larger length field is not a safetensors file.
_MAX_HEADER = 100 * 1024 * 1024


@dataclass(frozen=True)
class BaseModelFamily:
    """What a base model turned out to be, and how that was found out."""

    families: tuple[Family, ...]
    evidence: str
    """``model_index.json says FluxPipeline``, ``its tensors look like SDXL`` ..."""

    @property
    def label(self) -> str:
        return " / ".join(dict.fromkeys(family.label for family in self.families))


def detect_family(base_model: str, *, hub_cache: Path | None = None) -> BaseModelFamily | None:
    """The family of ``base_model`` as far as it can be told without loading it (None: cannot tell).

    A diffusers folder says it in ``model_index.json``; a single ``.safetensors`` file by its
    tensor names (only the header is read); a Hugging Face repo id by the ``model_index.json`` of
    its copy in the local hub cache, when there is one. Nothing is downloaded.
    """
    text = base_model.strip()
    local = Path(text).expanduser()
    if local.is_dir():
        return _from_model_index(local / "model_index.json", f"{local}/model_index.json")
    if local.is_file():
        return _from_safetensors(local) if local.suffix.lower() == ".safetensors" else None
    if "://" in text or text.count("/") != 1:
        return None
    for index in _cached_model_indexes(text, hub_cache):
        found = _from_model_index(index, f"the cached {text}/model_index.json")
        if found is not None:
            return found
    return None


def check_base_model(preset_family: Family, base_model: str, *, hub_cache: Path | None = None) -> str | None:
    """One line saying the base model is of another family than the preset, or None when it fits
    (or cannot be told)."""
    found = detect_family(base_model, hub_cache=hub_cache)
    if found is None or preset_family in found.families:
        return None
    presets = ", ".join(family.preset() for family in found.families)
    return (
        f"the base model {base_model!r} is {found.label} ({found.evidence}), but the preset is for "
        f"{preset_family.label}; use a {found.label} preset ({presets}) or a {preset_family.label} base model"
    )


def _from_model_index(path: Path, where: str) -> BaseModelFamily | None:
    import json

    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    class_name = data.get("_class_name") if isinstance(data, dict) else None
    if not isinstance(class_name, str):
        return None
    found = families_of_pipeline(class_name)
    return BaseModelFamily(tuple(found), f"{where} names {class_name}") if found else None


def _from_safetensors(path: Path) -> BaseModelFamily | None:
    """The family from a safetensors file's tensor names; reads the 8-byte length and the header only."""
    import json

    try:
        with path.open("rb") as handle:
            size = int.from_bytes(handle.read(8), "little")
            if not 2 <= size <= _MAX_HEADER:
                return None
            header = json.loads(handle.read(size))
    except (OSError, ValueError):
        return None
    if not isinstance(header, dict):
        return None
    names = [name for name in header if name != "__metadata__"]
    for fragment, keys in _KEY_LAYOUTS:
        if any(fragment in name for name in names):
            families = tuple(_BY_KEY[key] for key in keys)
            return BaseModelFamily(families, f"its tensor names have {fragment.rstrip('.')}")
    return None


def _cached_model_indexes(repo_id: str, hub_cache: Path | None) -> list[Path]:
    """``model_index.json`` of each snapshot of ``repo_id`` in the local Hugging Face hub cache."""
    import os

    if hub_cache is None:
        env = os.environ.get("HF_HUB_CACHE") or os.environ.get("HUGGINGFACE_HUB_CACHE")
        home = os.environ.get("HF_HOME")
        default = Path(home) / "hub" if home else Path.home() / ".cache" / "huggingface" / "hub"
        hub_cache = Path(env) if env else default
    folder = hub_cache.expanduser() / ("models--" + repo_id.replace("/", "--")) / "snapshots"
    try:
        return sorted(folder.glob("*/model_index.json"))
    except OSError:
        return []
