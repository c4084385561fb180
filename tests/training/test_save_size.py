"""Preflight sizes a LoRA save as a LoRA: rank x the layers OneTrainer adapts, not a whole model."""

from __future__ import annotations

import json
import struct
from collections.abc import Callable
from pathlib import Path

from onelazy.training import check_launch
from onelazy.training.config_facts import read_config_facts
from onelazy.training.save_size import FALLBACK_BYTES_PER_RANK, lora_parameters

Tree = Callable[..., Path]

#: a tiny SD 1.5-shaped model: one attention projection, convs, a norm; a text encoder with an embedding
UNET = {
    "conv_in.weight": [32, 4, 3, 3],
    "down_blocks.0.attentions.0.transformer_blocks.0.attn1.to_q.weight": [32, 32],
    "down_blocks.0.attentions.0.proj_in.weight": [32, 32, 1, 1],
    "down_blocks.0.attentions.0.norm.weight": [32],
    "down_blocks.0.resnets.0.conv1.weight": [64, 32, 3, 3],
}
TEXT_ENCODER = {
    "text_model.embeddings.token_embedding.weight": [1000, 32],
    "text_model.encoder.layers.0.self_attn.q_proj.weight": [48, 32],
}


def write_safetensors(path: Path, shapes: dict[str, list[int]]) -> None:
    """A safetensors file as the format defines it: 8-byte little-endian header length, the JSON
    header (dtype, shape, data offsets), then the float32 data (zeros)."""
    header: dict[str, object] = {}
    offset = 0
    for name, shape in shapes.items():
        size = 4
        for dimension in shape:
            size *= dimension
        header[name] = {"dtype": "F32", "shape": shape, "data_offsets": [offset, offset + size]}
        offset += size
    text = json.dumps(header).encode()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(struct.pack("<Q", len(text)) + text + bytes(offset))


def tiny_model(folder: Path) -> Path:
    write_safetensors(folder / "unet" / "diffusion_pytorch_model.safetensors", UNET)
    write_safetensors(folder / "text_encoder" / "model.safetensors", TEXT_ENCODER)
    (folder / "model_index.json").write_text("{}", encoding="utf-8")
    return folder


def disk_line(config: Path, root: Path) -> str:
    [disk] = [c for c in check_launch(config, onetrainer=root).checks if c.name == "disk"]
    return disk.detail


def test_lora_values_follow_onetrainers_layer_rule(train_config: Callable[..., Path], tmp_path: Path) -> None:
    model = tiny_model(tmp_path / "tiny")
    config = train_config(base_model_name=str(model), lora_rank=4, layer_filter="attentions")
    facts = read_config_facts(config)
    # the filter selects the Linear to_q and the 1x1 Conv2d proj_in of the UNet (not its norm, not the
    # resnet conv); down is rank x inputs (x kernel), up outputs x rank, plus one alpha each
    unet = (4 * (32 + 32) + 1) + (4 * (32 * 1 * 1 + 32) + 1)
    text_encoder = 4 * (32 + 48) + 1  # every Linear of a trained text encoder; the embedding gets none
    expected = unet + (text_encoder if "text_encoder" in facts.trained_parts else 0)
    assert lora_parameters(facts, model) == expected
    everything = read_config_facts(
        train_config(base_model_name=str(model), lora_rank=4, layer_filter="", layer_filter_preset="full")
    )
    convs = (4 * (4 * 9 + 32) + 1) + (4 * (32 * 9 + 64) + 1)
    assert lora_parameters(everything, model) == expected + convs


def test_preflight_sizes_lora_saves_in_megabytes_not_as_a_model(
    fake_onetrainer: Tree, train_config: Callable[..., Path], tmp_path: Path
) -> None:
    root = fake_onetrainer()
    model = tiny_model(tmp_path / "tiny")
    config = train_config(base_model_name=str(model), lora_rank=4, save_every=1, save_every_unit="EPOCH")
    line = disk_line(config, root)
    assert "free at" in line and line.endswith(" MiB")  # was "about 0.x GiB": 64 MiB each
    needed = float(line.rsplit(" ", 2)[-2])
    assert needed < 5  # a few saves and a backup of a LoRA of about 300 KiB

    # once a save exists, its size is the measure
    workspace = Path(json.loads(config.read_text())["workspace_dir"])
    save = workspace / "save" / "2026-01-01_00-00-00-save-4-1-0.safetensors"
    save.parent.mkdir(parents=True)
    save.write_bytes(bytes(40 * 1024 * 1024))
    assert float(disk_line(config, root).rsplit(" ", 2)[-2]) > 40 * 3


def test_a_hub_model_falls_back_to_a_rule_by_rank(
    fake_onetrainer: Tree, train_config: Callable[..., Path]
) -> None:
    hub = train_config(base_model_name="stable-diffusion-v1-5/stable-diffusion-v1-5", lora_rank=16)
    facts = read_config_facts(hub)
    assert lora_parameters(facts, Path(facts.base_model_name)) is None
    assert FALLBACK_BYTES_PER_RANK * 16 == 128 * 1024 * 1024
