"""ComfyUI txt2img graphs per model family: the loaders, the conditioning and the latent each needs.

SD 1.5 and SDXL load from one checkpoint (``CheckpointLoaderSimple``: model, CLIP and VAE) into an
``EmptyLatentImage``. The newer families are usually shipped as separate files: the diffusion
model for ``UNETLoader``, the text encoder(s) for ``CLIPLoader`` / ``DualCLIPLoader`` with the
family's ``type``, and a ``VAELoader``; Flux takes its guidance through ``FluxGuidance`` (and
KSampler's cfg 1), the AuraFlow-style models (Z-Image, Qwen-Image) a sampling shift through
``ModelSamplingAuraFlow``, SD 3 through ``ModelSamplingSD3``; all of them an ``EmptySD3LatentImage``
(16 latent channels), Flux.2 its own ``EmptyFlux2LatentImage``. A LoRA of these families trains the
transformer only, so it is applied with ``LoraLoaderModelOnly``.

Every class and input named here is in what a real ComfyUI 0.3.64 answers on ``/object_info``,
except Flux.2's ``EmptyFlux2LatentImage`` and ``CLIPLoader`` type ``flux2``, which came later and
are taken from ComfyUI's own Flux.2 documentation.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

#: The SaveImage node's id (the one output node of every graph).
SAVE_NODE = "9"


@dataclass(frozen=True)
class ComfyRecipe:
    """How one family is rendered in ComfyUI, with its render defaults."""

    loader: Literal["checkpoint", "unet"]
    clip_loader: str | None = None
    """``CLIPLoader`` / ``DualCLIPLoader`` / ``TripleCLIPLoader`` for ``unet`` families."""
    clip_type: str | None = None
    text_encoders: tuple[str, ...] = ()
    """Default text encoder files (``models/text_encoders``), named as in ComfyUI's examples."""
    vae: str | None = None
    """Default VAE file name (``models/vae``)."""
    latent: str = "EmptyLatentImage"
    guidance: float | None = None
    """``FluxGuidance`` on the positive conditioning (guidance-distilled models)."""
    sampling: tuple[str, dict[str, Any]] | None = None
    """A ``ModelSampling*`` node and its values, between the model (and LoRAs) and the sampler."""
    steps: int = 25
    cfg: float = 7.0
    sampler: str = "euler"
    scheduler: str = "normal"
    negative: bool = True
    """False where cfg 1 makes the negative prompt meaningless (it is still encoded, empty)."""
    lora_loader: Literal["LoraLoader", "LoraLoaderModelOnly"] = "LoraLoader"
    example_model: str = ""
    """The file name ComfyUI's examples use for the diffusion model or checkpoint."""
    notes: tuple[str, ...] = field(default=())


RECIPES: dict[str, ComfyRecipe] = {
    "sd15": ComfyRecipe("checkpoint", example_model="v1-5-pruned-emaonly.safetensors"),
    "sdxl": ComfyRecipe("checkpoint", example_model="sd_xl_base_1.0.safetensors"),
    "sd3": ComfyRecipe(
        "checkpoint", sampling=("ModelSamplingSD3", {"shift": 3.0}), latent="EmptySD3LatentImage",
        steps=28, cfg=4.5, sampler="dpmpp_2m", scheduler="sgm_uniform",
        example_model="sd3_medium_incl_clips_t5xxlfp8.safetensors",
    ),
    "sd35": ComfyRecipe(
        "checkpoint", sampling=("ModelSamplingSD3", {"shift": 3.0}), latent="EmptySD3LatentImage",
        steps=30, cfg=4.5, sampler="euler", scheduler="sgm_uniform",
        example_model="sd3.5_medium_incl_clips_t5xxlfp8scaled.safetensors",
    ),
    "flux1": ComfyRecipe(
        "unet", "DualCLIPLoader", "flux", ("clip_l.safetensors", "t5xxl_fp16.safetensors"),
        "ae.safetensors", latent="EmptySD3LatentImage", guidance=3.5, steps=20, cfg=1.0, sampler="euler",
        scheduler="simple",
        negative=False, lora_loader="LoraLoaderModelOnly", example_model="flux1-dev.safetensors",
    ),
    "flux2": ComfyRecipe(
        "unet", "CLIPLoader", "flux2", ("mistral_3_small_flux2_bf16.safetensors",),
        "flux2-vae.safetensors", latent="EmptyFlux2LatentImage", guidance=4.0, steps=20, cfg=1.0,
        sampler="euler", scheduler="simple",
        negative=False, lora_loader="LoraLoaderModelOnly", example_model="flux2_dev_fp8mixed.safetensors",
        notes=("ComfyUI's own Flux.2 workflow samples with Flux2Scheduler; onelazy uses KSampler's simple",),
    ),
    "chroma": ComfyRecipe(
        "unet", "CLIPLoader", "chroma", ("t5xxl_fp16.safetensors",), "ae.safetensors",
        latent="EmptySD3LatentImage", steps=26, cfg=4.0, sampler="euler", scheduler="simple",
        lora_loader="LoraLoaderModelOnly", example_model="chroma1-hd.safetensors",
    ),
    "zimage": ComfyRecipe(
        "unet", "CLIPLoader", "lumina2", ("qwen_3_4b.safetensors",), "ae.safetensors",
        latent="EmptySD3LatentImage", sampling=("ModelSamplingAuraFlow", {"shift": 3.0}),
        steps=28, cfg=4.0, sampler="res_multistep", scheduler="simple",
        lora_loader="LoraLoaderModelOnly", example_model="z_image_bf16.safetensors",
    ),
    "zimage-deturbo": ComfyRecipe(
        "unet", "CLIPLoader", "lumina2", ("qwen_3_4b.safetensors",), "ae.safetensors",
        latent="EmptySD3LatentImage", sampling=("ModelSamplingAuraFlow", {"shift": 3.0}),
        steps=8, cfg=1.0, sampler="res_multistep", scheduler="simple", negative=False,
        lora_loader="LoraLoaderModelOnly", example_model="z_image_turbo_bf16.safetensors",
    ),
    "qwen": ComfyRecipe(
        "unet", "CLIPLoader", "qwen_image", ("qwen_2.5_vl_7b_fp8_scaled.safetensors",),
        "qwen_image_vae.safetensors", latent="EmptySD3LatentImage",
        sampling=("ModelSamplingAuraFlow", {"shift": 3.1}), steps=20, cfg=2.5, sampler="euler",
        scheduler="simple", lora_loader="LoraLoaderModelOnly",
        example_model="qwen_image_fp8_e4m3fn.safetensors",
    ),
}  # fmt: skip

#: The ComfyUI folder each loader's file input lists (``GET /models/<folder>``).
FOLDERS = {
    "checkpoint": "checkpoints",
    "unet": "diffusion_models",
    "text_encoders": "text_encoders",
    "vae": "vae",
}
_CLIP_INPUTS = ("clip_name", "clip_name1", "clip_name2", "clip_name3", "clip_name4")


def recipe(family: str | None) -> ComfyRecipe:
    """The family's recipe; None (no family named) is the single-checkpoint SD graph."""
    return RECIPES[family or "sd15"]


def family_graph(
    *,
    family: str | None,
    model: str,
    text_encoders: tuple[str, ...],
    vae: str | None,
    prompt: str,
    negative_prompt: str,
    width: int,
    height: int,
    batch_size: int,
    steps: int,
    cfg: float,
    seed: int,
    sampler: str,
    scheduler: str,
    loras: tuple[tuple[str, float], ...],
    filename_prefix: str,
) -> dict[str, Any]:
    """The API-format txt2img graph of ``family`` (names exactly as the server lists them)."""
    rec = recipe(family)
    graph: dict[str, Any] = {}
    if rec.loader == "checkpoint":
        graph["4"] = {"class_type": "CheckpointLoaderSimple", "inputs": {"ckpt_name": model}}
        model_source, clip_source, vae_source = ["4", 0], ["4", 1], ["4", 2]
    else:
        assert rec.clip_loader is not None
        graph["4"] = {"class_type": "UNETLoader", "inputs": {"unet_name": model, "weight_dtype": "default"}}
        names = _clip_names(rec.clip_loader, len(text_encoders))
        clip_inputs: dict[str, Any] = dict(zip(names, text_encoders, strict=True))
        if rec.clip_type is not None:
            clip_inputs["type"] = rec.clip_type
        graph["30"] = {"class_type": rec.clip_loader, "inputs": clip_inputs}
        graph["31"] = {"class_type": "VAELoader", "inputs": {"vae_name": vae}}
        model_source, clip_source, vae_source = ["4", 0], ["30", 0], ["31", 0]
    for number, (name, weight) in enumerate(loras):
        node_id = str(10 + number)
        if rec.lora_loader == "LoraLoaderModelOnly":
            graph[node_id] = {
                "class_type": "LoraLoaderModelOnly",
                "inputs": {"model": model_source, "lora_name": name, "strength_model": weight},
            }
            model_source = [node_id, 0]
        else:
            graph[node_id] = {
                "class_type": "LoraLoader",
                "inputs": {
                    "model": model_source,
                    "clip": clip_source,
                    "lora_name": name,
                    "strength_model": weight,
                    "strength_clip": weight,
                },
            }
            model_source, clip_source = [node_id, 0], [node_id, 1]
    if rec.sampling is not None:
        node_class, values = rec.sampling
        graph["32"] = {"class_type": node_class, "inputs": {"model": model_source, **values}}
        model_source = ["32", 0]
    graph["6"] = {"class_type": "CLIPTextEncode", "inputs": {"text": prompt, "clip": clip_source}}
    negative_text = negative_prompt if rec.negative else ""
    graph["7"] = {"class_type": "CLIPTextEncode", "inputs": {"text": negative_text, "clip": clip_source}}
    positive: list[Any] = ["6", 0]
    if rec.guidance is not None:
        guidance = {"conditioning": positive, "guidance": rec.guidance}
        graph["33"] = {"class_type": "FluxGuidance", "inputs": guidance}
        positive = ["33", 0]
    graph["5"] = {
        "class_type": rec.latent,
        "inputs": {"width": width, "height": height, "batch_size": batch_size},
    }
    graph["3"] = {
        "class_type": "KSampler",
        "inputs": {
            "seed": seed,
            "steps": steps,
            "cfg": cfg,
            "sampler_name": sampler,
            "scheduler": scheduler,
            "denoise": 1.0,
            "model": model_source,
            "positive": positive,
            "negative": ["7", 0],
            "latent_image": ["5", 0],
        },
    }
    graph["8"] = {"class_type": "VAEDecode", "inputs": {"samples": ["3", 0], "vae": vae_source}}
    save = {"filename_prefix": filename_prefix, "images": ["8", 0]}
    graph[SAVE_NODE] = {"class_type": "SaveImage", "inputs": save}
    return graph


def _clip_names(loader: str, count: int) -> tuple[str, ...]:
    if loader == "CLIPLoader":
        return ("clip_name",)
    return _CLIP_INPUTS[1 : 1 + count]
