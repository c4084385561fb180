"""build-config on folders of real (small, generated) images: the files it writes and what it refuses."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result
from PIL import Image

from onelazy import cli as cli_module
from onelazy.build import BuiltConfig, build_config
from onelazy.dataset import find_images
from onelazy.errors import ConfigError, DatasetError, PresetError
from onelazy.onetrainer import read_concepts, read_samples, read_train_config, to_onetrainer_json

BASE = "stablediffusionapi/ghostmix"


def make_images(
    folder: Path, count: int, *, size: tuple[int, int] = (64, 48), captions: bool = False, ext: str = ".png"
) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for index in range(count):
        path = folder / f"{index:04d}{ext}"
        Image.new("RGB", size, (index * 40 % 256, 90, 160)).save(path)
        if captions:
            path.with_suffix(".txt").write_text(f"a photo of a faery, pose {index}\n")
        paths.append(path)
    return paths


@pytest.fixture(autouse=True)
def _no_token(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("HF_TOKEN", raising=False)
    monkeypatch.delenv("ONETRAINER_DIR", raising=False)


def build(tmp_path: Path, **kwargs: Any) -> BuiltConfig:
    options: dict[str, Any] = {
        "preset": "lazy-sd15",
        "base_model": BASE,
        "output": tmp_path / "out" / "faery.safetensors",
        "prompts": ["a photo of a faery in a forest"],
        "run_dir": tmp_path / "run",
        "validation": False,  # the held-out split has its own tests (test_validation.py)
    }
    options.update(kwargs)
    images = options.pop("images", tmp_path / "faery")
    return build_config(images, **options)


# --------------------------------------------------------------------------- the files


def test_config_round_trips_through_the_model_unchanged(tmp_path: Path) -> None:
    make_images(tmp_path / "faery", 6)
    built = build(tmp_path)
    written = built.write()
    config_path = tmp_path / "run" / "config.json"
    assert config_path in written and (tmp_path / "run" / "prompts.txt") in written
    text = config_path.read_text()
    model = read_train_config(config_path, strict=True)
    assert to_onetrainer_json(model) == text


def test_a_file_that_cannot_be_written_stops_before_any_is(tmp_path: Path) -> None:
    from onelazy.errors import StorageError

    make_images(tmp_path / "faery", 5)
    built = build(tmp_path, separate_files=True, hf_token="")
    (tmp_path / "run" / "samples.json").mkdir(parents=True)  # a folder where a file goes
    with pytest.raises(StorageError, match=r"samples\.json: cannot write: it is a folder"):
        built.write()
    assert sorted(p.name for p in (tmp_path / "run").iterdir()) == ["samples.json"]
    (tmp_path / "run" / "samples.json").rmdir()
    written = built.write()
    assert written[-1].name == "config.json"  # last: a config never points at files not yet written
    assert sorted(p.name for p in written) == ["concepts.json", "config.json", "prompts.txt", "samples.json"]


def test_config_has_absolute_paths_device_seeds_and_the_plan(tmp_path: Path) -> None:
    make_images(tmp_path / "faery", 6)
    build(tmp_path).write()
    data = json.loads((tmp_path / "run" / "config.json").read_text())
    for key in (
        "workspace_dir",
        "cache_dir",
        "output_model_destination",
        "concept_file_name",
        "sample_definition_file_name",
    ):
        assert Path(data[key]).is_absolute(), key
    assert data["output_model_destination"] == str((tmp_path / "out" / "faery.safetensors").resolve())
    assert data["workspace_dir"] == str((tmp_path / "run" / "workspace").resolve())
    assert data["train_device"] == "cuda"
    assert data["base_model_name"] == BASE
    assert data["lora_rank"] == 32 and data["layer_filter"] == "attentions"
    assert data["embedding"]["uuid"]
    (concept,) = data["concepts"]
    assert concept["path"] == str((tmp_path / "faery").resolve())
    assert isinstance(concept["seed"], int)
    assert concept["text"] == {
        **concept["text"],
        "prompt_source": "concept",
        "prompt_path": str((tmp_path / "run" / "prompts.txt").resolve()),
    }
    # SD 1.5 default: 40 steps per image, batch 4 from OneTrainer's preset. 6 images at batch 4 are one
    # step per epoch (2 left over), so 6 x 40 / 4 = 60 steps take 60 epochs, then on to 125 %.
    assert data["batch_size"] == 4
    assert (data["epochs"], data["save_every"], data["save_every_unit"], data["save_skip_first"]) == (
        75,
        15,
        "EPOCH",
        45,
    )
    assert data["secrets"]["huggingface_token"] == ""


def test_samples_use_the_models_settings_and_fixed_seeds(tmp_path: Path) -> None:
    make_images(tmp_path / "faery", 4, captions=True)
    built = build(
        tmp_path, preset="lazy-sdxl", prompts=[], base_model="stabilityai/stable-diffusion-xl-base-1.0"
    )
    built.write()
    data = json.loads((tmp_path / "run" / "config.json").read_text())
    samples = data["samples"]
    assert [s["seed"] for s in samples] == [42, 43, 44]
    assert samples[0]["prompt"] == "a photo of a faery, pose 0"
    assert {(s["width"], s["height"], s["noise_scheduler"], s["cfg_scale"]) for s in samples} == {
        (1024, 1024, "EULER_A", 7.5)
    }
    assert data["concepts"][0]["text"]["prompt_source"] == "sample"
    # SDXL default: 100 steps per image.
    assert built.plan.target_value == 100


def test_separate_files_round_trip_too(tmp_path: Path) -> None:
    make_images(tmp_path / "faery", 5)
    build(tmp_path, separate_files=True).write()
    run = tmp_path / "run"
    data = json.loads((run / "config.json").read_text())
    assert data["concepts"] is None and data["samples"] is None
    assert data["concept_file_name"] == str((run / "concepts.json").resolve())
    concepts = read_concepts(run / "concepts.json")
    assert to_onetrainer_json(concepts) == (run / "concepts.json").read_text()
    samples = read_samples(run / "samples.json")
    assert to_onetrainer_json(samples) == (run / "samples.json").read_text()
    assert read_train_config(run / "config.json") is not None


def test_inline_prompts_become_the_prompt_file(tmp_path: Path) -> None:
    make_images(tmp_path / "faery", 4)
    build(tmp_path, prompts=["a faery, watercolor", "a faery in the rain\na faery at dusk"]).write()
    assert (tmp_path / "run" / "prompts.txt").read_text().splitlines() == [
        "a faery, watercolor",
        "a faery in the rain",
        "a faery at dusk",
    ]


def test_a_prompt_file_is_used_where_it_is(tmp_path: Path) -> None:
    make_images(tmp_path / "faery", 4)
    prompts = tmp_path / "my-prompts.txt"
    prompts.write_text("one prompt\n\nanother\n")
    built = build(tmp_path, prompts=[], prompt_file=prompts)
    built.write()
    assert not (tmp_path / "run" / "prompts.txt").exists()
    assert built.concepts[0].text.prompt_path == str(prompts.resolve())
    assert [s.prompt for s in built.samples] == ["one prompt", "another"]


def test_secrets_go_only_to_secrets_json_with_mode_0600(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    make_images(tmp_path / "faery", 4)
    monkeypatch.setenv("HF_TOKEN", "hf_secret_value_123")
    built = build(tmp_path)
    built.write()
    secrets = tmp_path / "run" / "secrets.json"
    assert stat.S_IMODE(secrets.stat().st_mode) == 0o600
    assert json.loads(secrets.read_text())["huggingface_token"] == "hf_secret_value_123"
    for path in (tmp_path / "run").iterdir():
        if path != secrets:
            assert "hf_secret_value_123" not in path.read_text(), path
    assert "--secrets" in built.launch_command()


def test_resolution_override_when_images_are_larger_than_the_model_trains_at(tmp_path: Path) -> None:
    make_images(tmp_path / "big", 4, size=(1024, 1024))
    built = build(tmp_path, images=tmp_path / "big")
    image = built.concepts[0].image
    assert image.enable_resolution_override is True
    assert image.resolution_override == "512"
    said = "another size than the 512 px SD 1.5 trains at"
    assert any(said in note and "1024" in note for note in built.notes)


def test_resolution_override_when_images_are_smaller_than_the_family_trains_at(tmp_path: Path) -> None:
    """SD 1.5-sized images for an SDXL LoRA: the override (and the note) says the sizes differ."""
    make_images(tmp_path / "sd15-sized", 4, size=(512, 512))
    built = build(tmp_path, images=tmp_path / "sd15-sized", preset="lazy-sdxl")
    image = built.concepts[0].image
    assert image.enable_resolution_override is True and image.resolution_override == "1024"
    assert any("another size than the 1024 px SDXL trains at" in note for note in built.notes)


def test_no_resolution_override_for_images_at_the_models_size(tmp_path: Path) -> None:
    make_images(tmp_path / "small", 4, size=(512, 512))
    built = build(tmp_path, images=tmp_path / "small")
    assert built.concepts[0].image.enable_resolution_override is False
    assert not any("resolution override" in note for note in built.notes)


def test_several_folders_are_several_concepts_counted_in_the_plan(tmp_path: Path) -> None:
    make_images(tmp_path / "a", 4)
    make_images(tmp_path / "b", 8)
    built = build(tmp_path, images=[tmp_path / "a", tmp_path / "b"], total_steps=300)
    assert [c.name for c in built.concepts] == ["a", "b"]
    assert built.plan.images == 12
    assert built.plan.steps_per_epoch == 3  # 12 images / batch 4


def test_images_are_found_as_onetrainer_finds_them(tmp_path: Path) -> None:
    folder = tmp_path / "set"
    make_images(folder, 2)
    make_images(folder, 1, ext=".JPG")
    Image.new("L", (8, 8)).save(folder / "0000-masklabel.png")
    (folder / "notes.md").write_text("not an image")
    make_images(folder / "sub", 2)
    make_images(folder / ".hidden", 2)
    assert len(find_images(folder)) == 3
    assert len(find_images(folder, depth=None)) == 5
    built = build(tmp_path, images=folder, recursive=True)
    assert built.concepts[0].include_subdirectories is True
    assert built.plan.images == 5


def test_set_changes_a_value_and_the_plan_follows_batch_size(tmp_path: Path) -> None:
    make_images(tmp_path / "faery", 8)
    built = build(tmp_path, set_values=["lora_rank=48", "batch_size=2"])
    assert built.config.lora_rank == 48
    assert built.plan.steps_per_epoch == 4


# --------------------------------------------------------------------------- refusals: nothing written


@pytest.mark.parametrize(
    ("setup", "kwargs", "error", "text"),
    [
        ("none", {}, DatasetError, "no such folder"),
        ("empty", {}, DatasetError, "no images in the folder"),
        ("images", {"preset": "lazy-sxdl"}, PresetError, "did you mean 'lazy-sdxl'"),
        ("images", {"set_values": ["lora_rnak=48"]}, ConfigError, "lora_rank"),
        ("images", {"set_values": ["epochs=5"]}, ConfigError, "decided by the plan"),
        ("images", {"output": "faery.ckpt"}, ConfigError, ".safetensors"),
        ("images", {"prompts": [], "prompt_source": "concept"}, ConfigError, "needs prompts"),
        ("images", {"prompts": []}, DatasetError, "4 of 4 missing: 0000.txt, 0001.txt, 0002.txt, 0003.txt"),
        ("images", {"steps_per_image": 5, "total_steps": 5}, ConfigError, "exactly one"),
    ],
)
def test_bad_input_is_refused_before_anything_is_written(
    tmp_path: Path, setup: str, kwargs: dict[str, object], error: type[Exception], text: str
) -> None:
    if setup == "empty":
        (tmp_path / "faery").mkdir()
        (tmp_path / "faery" / "readme.txt").write_text("no images here")
    elif setup == "images":
        make_images(tmp_path / "faery", 4)
    with pytest.raises(error) as info:
        build(tmp_path, **kwargs)
    assert text in str(info.value)
    assert "\n" not in str(info.value)
    assert not (tmp_path / "run").exists()


def test_missing_captions_are_listed(tmp_path: Path) -> None:
    make_images(tmp_path / "faery", 9, captions=True)
    for index in (2, 5):
        (tmp_path / "faery" / f"000{index}.txt").unlink()
    with pytest.raises(DatasetError, match=r"2 of 9 missing: 0002\.txt, 0005\.txt$"):
        build(tmp_path, prompts=[], prompt_source="sample")


# --------------------------------------------------------------------------- the command


def run_cli(args: list[str], tmp_path: Path) -> Result:
    return CliRunner().invoke(cli_module.cli, args, catch_exceptions=False)


def test_cli_writes_prints_the_plan_and_the_launch_command(tmp_path: Path) -> None:
    make_images(tmp_path / "faery", 10)
    result = run_cli(
        [
            "build-config",
            "--no-validation",
            str(tmp_path / "faery"),
            "--preset",
            "lazy-sd15",
            "--base-model",
            BASE,
            "--output",
            str(tmp_path / "faery.safetensors"),
            "--prompt",
            "a faery",
            "--steps-per-image",
            "40",
            "--set",
            "batch_size=1",
            "-o",
            str(tmp_path / "run"),
            "--onetrainer",
            str(tmp_path / "OT"),
        ],
        tmp_path,
    )
    assert result.exit_code == 0, result.output
    out = result.output
    assert "10 images \N{MULTIPLICATION SIGN} 40 steps/image ÷ batch 1 = 400 steps = 40 epochs" in out
    config = (tmp_path / "run" / "config.json").resolve()
    assert f"onelazy launch {config} --onetrainer {tmp_path / 'OT'}" in out
    assert "save" in out and "final model" in out


def test_cli_bad_input_is_one_line_exit_2_and_writes_nothing(tmp_path: Path) -> None:
    make_images(tmp_path / "faery", 4)
    (tmp_path / "notes.txt").write_text("a file where the LoRA's folder should be")
    cases = [
        [str(tmp_path / "nope")],
        [str(tmp_path / "faery"), "--set", "lora_rnak=48"],
        [str(tmp_path / "faery"), "--set", "samples=[1]"],
        [str(tmp_path / "faery"), "--set", "concepts=[]"],
        [str(tmp_path / "faery"), "--set", "lora_rank=0"],
        [str(tmp_path / "faery"), "--set", "learning_rate=-1"],
        [str(tmp_path / "faery"), "--preset", "nope"],
        [str(tmp_path / "faery"), "--output", str(tmp_path / "notes.txt" / "f.safetensors")],
        [str(tmp_path / "faery"), "--name", ".."],
        [str(tmp_path / "faery"), "--name", "../elsewhere"],
    ]
    for extra in cases:
        args = [
            "build-config",
            "--no-validation",
            *extra[:1],
            "--preset",
            "lazy-sd15",
            "--base-model",
            BASE,
            "--output",
            str(tmp_path / "f.safetensors"),
            "--prompt",
            "x",
            "-o",
            str(tmp_path / "run"),
            *extra[1:],
        ]
        result = CliRunner().invoke(cli_module.cli, args)
        assert result.exit_code == 2, (extra, result.output)
        lines = [line for line in result.output.splitlines() if line.strip()]
        assert len(lines) == 1 and lines[0].startswith("Error: "), result.output
        assert "Traceback" not in result.output
        assert "preset lazy-sd15" not in result.output  # a --set mistake is not the preset's
        assert not (tmp_path / "run").exists()


def test_cli_dry_run_writes_nothing(tmp_path: Path) -> None:
    make_images(tmp_path / "faery", 4)
    result = run_cli(
        [
            "build-config",
            "--no-validation",
            str(tmp_path / "faery"),
            "--preset",
            "nonlazy-sdxl",
            "--base-model",
            BASE,
            "--output",
            str(tmp_path / "f.safetensors"),
            "--prompt",
            "x",
            "-o",
            str(tmp_path / "run"),
            "--dry-run",
        ],
        tmp_path,
    )
    assert result.exit_code == 0
    assert "nothing written" in result.output
    assert not (tmp_path / "run").exists()


def test_public_name() -> None:
    import onelazy

    assert onelazy.build_config is build_config
    assert os.path.basename(onelazy.__file__) == "__init__.py"


def test_set_wins_over_the_values_build_config_chooses(tmp_path: Path) -> None:
    make_images(tmp_path / "faery", 4)
    elsewhere = tmp_path / "fast-disk" / "cache"
    built = build(tmp_path, set_values=[f"cache_dir={elsewhere}", "train_device=cuda:1"])
    assert built.config.cache_dir == str(elsewhere)
    assert built.config.train_device == "cuda:1"


def test_captions_that_are_not_utf8_are_refused(tmp_path: Path) -> None:
    make_images(tmp_path / "faery", 4, captions=True)
    (tmp_path / "faery" / "0003.txt").write_bytes("caf\xe9 faery".encode("latin-1"))
    with pytest.raises(DatasetError, match=r"captions must be UTF-8 .*1 are not: 0003\.txt$"):
        build(tmp_path, prompts=[])
    assert not (tmp_path / "run").exists()
