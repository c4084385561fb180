"""How big one LoRA save will be, for preflight's free-space check.

A LoRA holds, for every Linear and Conv2d layer OneTrainer adapts, a down matrix (rank x the layer's
inputs, times the kernel for a conv) and an up matrix (the layer's outputs x rank), saved in
``output_dtype``. The layers and their shapes are in the base model's safetensors headers, so a
local base model gives the size without loading a tensor; a save already in the workspace gives it
exactly; a Hugging Face repo id (nothing local to read) falls back to a generous rule by rank.
"""

from __future__ import annotations

import json
import re
import struct
from collections.abc import Iterable, Iterator
from pathlib import Path

from onelazy.onetrainer.outputs import SAVE_DIR
from onelazy.training.config_facts import ConfigFacts

_MIB = 1024 * 1024
#: bytes per value of each ``output_dtype`` a LoRA can be saved in (others: as float32, generous)
_DTYPE_BYTES = {"FLOAT_16": 2, "BFLOAT_16": 2, "FLOAT_8": 1}
#: the parts of a diffusers folder that ``layer_filter`` selects layers of; text encoders get every layer
_FILTERED_PARTS = ("unet", "prior", "transformer")
#: a safetensors header larger than this is not a header (the format caps it at 100 MB)
_MAX_HEADER = 100_000_000
#: what the rule of thumb allows per rank when no shapes can be read (SD 1.5, every layer, float32)
FALLBACK_BYTES_PER_RANK = 8 * _MIB
_SAVE_SUFFIXES = (".safetensors", ".ckpt", ".pt", ".bin")


def lora_save_bytes(facts: ConfigFacts, base_model: Path, workspace: Path) -> tuple[int, str]:
    """The size of one LoRA save and how it was found (said in the preflight line)."""
    saved = _largest_save(workspace / SAVE_DIR)
    if saved is not None:
        return saved.stat().st_size, f"as big as {saved.name}"
    parameters = lora_parameters(facts, base_model)
    if parameters is None:
        return facts.lora_rank * FALLBACK_BYTES_PER_RANK, f"rank {facts.lora_rank}, by rule of thumb"
    size = parameters * _DTYPE_BYTES.get(facts.output_dtype, 4)
    return size + size // 20 + 256 * 1024, f"rank {facts.lora_rank} over the base model's layers"  # keys


def lora_parameters(facts: ConfigFacts, base_model: Path) -> int | None:
    """Values in a LoRA of ``facts.lora_rank`` over the layers of ``base_model`` that would train;
    None when the base model is not a local safetensors file or diffusers folder."""
    rank = facts.lora_rank
    if base_model.is_file():
        shapes = _read_shapes(base_model)
        if shapes is None:
            return None
        # a single-file checkpoint names layers its own way: count every layer, an upper bound
        return sum(_lora_values(shape, rank) for _name, shape in _layers(shapes))
    if not base_model.is_dir():
        return None
    total, found = 0, False
    patterns = [p.strip() for p in facts.layer_filter.split(",")]
    for part in facts.trained_parts:
        files = sorted((base_model / part).glob("*.safetensors"))
        for file in files:
            shapes = _read_shapes(file)
            if shapes is None:
                return None
            found = True
            for name, shape in _layers(shapes):
                if part not in _FILTERED_PARTS or _selected(name, patterns, facts.layer_filter_regex):
                    total += _lora_values(shape, rank)
    return total if found else None


def _selected(name: str, patterns: list[str], regex: bool) -> bool:
    """OneTrainer's layer filter: any pattern matches (substring, or ``re.search``); an empty one
    matches every layer."""
    return any(not p or (re.search(p, name) is not None if regex else p in name) for p in patterns)


def _lora_values(shape: list[int], rank: int) -> int:
    outputs, inputs = shape[0], 1
    for dimension in shape[1:]:
        inputs *= dimension
    return rank * (inputs + outputs) + 1  # down, up, alpha


def _layers(shapes: dict[str, list[int]]) -> Iterator[tuple[str, list[int]]]:
    """(module name, weight shape) of what could be a Linear (2-D) or Conv2d (4-D) layer; token and
    position embeddings are 2-D too but get no LoRA."""
    for key, shape in shapes.items():
        if key.endswith(".weight") and len(shape) in (2, 4) and "embedding" not in key.rsplit(".", 2)[-2]:
            yield key.removesuffix(".weight"), shape


def _read_shapes(path: Path) -> dict[str, list[int]] | None:
    """Tensor shapes from a safetensors header (8 bytes of length, then JSON); None if it is not one."""
    try:
        with path.open("rb") as handle:
            head = handle.read(8)
            if len(head) != 8:
                return None
            (length,) = struct.unpack("<Q", head)
            if not 2 <= length <= _MAX_HEADER:
                return None
            header = json.loads(handle.read(length))
    except (OSError, ValueError):
        return None
    if not isinstance(header, dict):
        return None
    return {
        key: [int(d) for d in value["shape"]]
        for key, value in header.items()
        if isinstance(value, dict) and isinstance(value.get("shape"), list)
    }


def _largest_save(folder: Path) -> Path | None:
    files: Iterable[Path] = (p for p in folder.iterdir() if p.is_file()) if folder.is_dir() else ()
    saves = [p for p in files if p.suffix in _SAVE_SUFFIXES]
    return max(saves, key=lambda p: p.stat().st_size, default=None)
