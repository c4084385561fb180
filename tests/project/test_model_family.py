"""Model families: a base model of another family than the preset is refused in one line, up front."""

from __future__ import annotations

import json
import struct
from pathlib import Path
from typing import Any

import pytest

from onelazy.build import build_config
from onelazy.errors import WrongModelFamily
from onelazy.families import FAMILIES, detect_family, family, family_of_preset
from onelazy.pipeline import run_project
from onelazy.presets import preset_names
from onelazy.project import init_project
from tests.project.helpers import fill_in


def diffusers_folder(root: Path, class_name: str) -> Path:
    root.mkdir(parents=True)
    (root / "model_index.json").write_text(json.dumps({"_class_name": class_name}), encoding="utf-8")
    return root


def safetensors_file(path: Path, tensor_names: list[str]) -> Path:
    """A real safetensors file: little-endian header length, JSON header, then the tensor bytes."""
    header: dict[str, Any] = {"__metadata__": {"format": "pt"}}
    offset = 0
    for name in tensor_names:
        header[name] = {"dtype": "F16", "shape": [2], "data_offsets": [offset, offset + 4]}
        offset += 4
    raw = json.dumps(header).encode()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(struct.pack("<Q", len(raw)) + raw + b"\0" * offset)
    return path


def images(folder: Path, count: int = 20) -> Path:
    from PIL import Image

    folder.mkdir(parents=True)
    for number in range(count):
        Image.new("RGB", (64, 64), (number * 40, 90, 160)).save(folder / f"{number:04}.png")
        (folder / f"{number:04}.txt").write_text("a faery", encoding="utf-8")
    return folder


def test_every_onelazy_preset_of_a_family_is_listed_by_its_family() -> None:
    owned = {name for fam in FAMILIES for name in fam.preset_names()}
    assert owned <= set(preset_names())
    assert {name for name in preset_names() if family_of_preset(name) is None} == set()


@pytest.mark.parametrize(
    ("class_name", "keys"),
    [
        ("StableDiffusionPipeline", {"sd15"}),
        ("StableDiffusionXLPipeline", {"sdxl"}),
        ("StableDiffusion3Pipeline", {"sd3", "sd35"}),
        ("FluxPipeline", {"flux1"}),
        ("Flux2Pipeline", {"flux2"}),
        ("ChromaPipeline", {"chroma"}),
        ("ZImagePipeline", {"zimage", "zimage-deturbo"}),
        ("QwenImagePipeline", {"qwen"}),
    ],
)
def test_a_diffusers_folder_is_known_by_its_pipeline_class(
    tmp_path: Path, class_name: str, keys: set[str]
) -> None:
    found = detect_family(str(diffusers_folder(tmp_path / "model", class_name)))
    assert found is not None and {fam.key for fam in found.families} == keys
    assert class_name in found.evidence


@pytest.mark.parametrize(
    ("names", "key"),
    [
        (
            ["model.diffusion_model.input_blocks.0.0.weight", "cond_stage_model.transformer.text_model.x"],
            "sd15",
        ),
        (
            [
                "model.diffusion_model.input_blocks.0.0.weight",
                "conditioner.embedders.1.model.ln_final.weight",
            ],
            "sdxl",
        ),
        (["double_blocks.0.img_attn.qkv.weight", "single_blocks.0.linear1.weight"], "flux1"),
        (["model.diffusion_model.double_blocks.0.img_attn.qkv.weight"], "flux1"),
        (["double_blocks.0.img_attn.qkv.weight", "distilled_guidance_layer.in_proj.weight"], "chroma"),
        (["double_blocks.0.img_attn.qkv.weight", "double_stream_modulation_img.lin.weight"], "flux2"),
        (["model.diffusion_model.single_stream_modulation.lin.weight"], "flux2"),
        (["model.diffusion_model.joint_blocks.0.x_block.attn.qkv.weight"], "sd3"),
        (["transformer_blocks.0.img_mlp.net.0.proj.weight", "txt_norm.weight"], "qwen"),
        (["cap_embedder.0.weight", "layers.0.adaLN_modulation.0.weight"], "zimage"),
        (["model.diffusion_model.layers.0.adaLN_modulation.0.weight"], "zimage"),
    ],
)
def test_a_single_file_is_known_by_its_tensor_names(tmp_path: Path, names: list[str], key: str) -> None:
    found = detect_family(str(safetensors_file(tmp_path / "model.safetensors", names)))
    assert found is not None and family(key) in found.families


def test_a_lumina_2_file_is_not_taken_for_z_image(tmp_path: Path) -> None:
    """Lumina 2 has Z-Image's cap_embedder but a SiLU before its adaLN Linear (index 1)."""
    names = ["cap_embedder.0.weight", "cap_embedder.1.weight", "layers.0.adaLN_modulation.1.weight"]
    assert detect_family(str(safetensors_file(tmp_path / "lumina2.safetensors", names))) is None


def test_only_the_header_of_a_single_file_is_read(tmp_path: Path) -> None:
    path = safetensors_file(tmp_path / "big.safetensors", ["double_blocks.0.img_attn.qkv.weight"])
    with path.open("ab") as handle:
        handle.truncate(path.stat().st_size + 2 * 1024**3)  # 2 GB of tensor data: sparse, never read
    found = detect_family(str(path))
    assert found is not None and found.families == (family("flux1"),)


@pytest.mark.parametrize("content", [b"", b"\xff" * 8 + b"{}", b"\x05\0\0\0\0\0\0\0[1,2]"])
def test_a_file_that_is_not_safetensors_tells_nothing(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "broken.safetensors"
    path.write_bytes(content)
    assert detect_family(str(path)) is None


def test_a_repo_id_is_known_from_the_local_hub_cache_only(tmp_path: Path) -> None:
    cache = tmp_path / "hub"
    snapshot = cache / "models--someone--my-flux" / "snapshots" / "0123abcd"
    diffusers_folder(snapshot, "FluxPipeline")
    found = detect_family("someone/my-flux", hub_cache=cache)
    assert found is not None and found.families == (family("flux1"),)
    assert detect_family("someone/not-cached", hub_cache=cache) is None


def test_a_sdxl_preset_on_an_sd15_folder_is_refused_in_one_line_naming_both(tmp_path: Path) -> None:
    base = diffusers_folder(tmp_path / "sd15", "StableDiffusionPipeline")
    with pytest.raises(WrongModelFamily) as caught:
        build_config(
            images(tmp_path / "faery"),
            preset="lazy-sdxl",
            base_model=str(base),
            output=tmp_path / "f.safetensors",
        )
    message = str(caught.value)
    assert "\n" not in message
    assert "SD 1.5" in message and "SDXL" in message and "lazy-sd15" in message
    assert message.startswith("--base-model: ")
    assert caught.value.exit_code == 2
    assert not (tmp_path / "runs").exists()


def test_a_base_model_of_the_presets_family_or_of_no_known_family_passes(tmp_path: Path) -> None:
    flux = safetensors_file(tmp_path / "flux1-dev.safetensors", ["double_blocks.0.img_attn.qkv.weight"])
    folder = images(tmp_path / "faery")
    built = build_config(folder, preset="lazy-flux1", base_model=str(flux), output=tmp_path / "f.safetensors")
    assert built.config.base_model_name == str(flux)
    unknown = tmp_path / "unknown"
    unknown.mkdir()
    build_config(folder, preset="lazy-flux1", base_model=str(unknown), output=tmp_path / "g.safetensors")


def test_run_refuses_the_wrong_family_before_generating_anything(world: dict[str, Any]) -> None:
    result = init_project(
        world["base"] / "faery", name="faery", backend="comfyui", url=world["server"].url,
        onetrainer=str(world["onetrainer"]),
    )  # fmt: skip
    fill_in(result.path, world)
    (world["model"] / "model_index.json").write_text(
        '{"_class_name": "StableDiffusionPipeline"}', encoding="utf-8"
    )
    text = result.path.read_text(encoding="utf-8").replace("preset: lazy-sd15", "preset: lazy-flux1")
    result.path.write_text(text, encoding="utf-8")
    with pytest.raises(WrongModelFamily) as caught:
        run_project(result.path)
    assert str(caught.value).startswith(f"{result.path}: base_model: ")
    assert "SD 1.5" in str(caught.value) and "Flux.1 dev" in str(caught.value)
    assert world["server"].graphs == []
    assert not (result.path.parent / "dataset").exists()
