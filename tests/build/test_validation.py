"""The held-out validation set build-config keeps out of training."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from onelazy import cli as cli_module
from onelazy.build import VALIDATION_CONCEPT, BuiltConfig, build_config
from onelazy.errors import DatasetError
from onelazy.heldout import held_out_count, images_needed
from tests.build.test_build import BASE, make_images


@pytest.fixture(autouse=True)
def _no_token(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("HF_TOKEN", raising=False)


def build(tmp_path: Path, folders: list[Path], **kwargs: Any) -> BuiltConfig:
    options: dict[str, Any] = {
        "preset": "lazy-sd15",
        "base_model": BASE,
        "output": tmp_path / "out" / "faery.safetensors",
        "prompt_source": "sample",
        "run_dir": tmp_path / "run",
    }
    options.update(kwargs)
    return build_config(folders, **options)


def files_under(folder: Path) -> set[str]:
    return {p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file()}


def test_counts_are_a_tenth_at_least_four_at_most_twenty() -> None:
    counts = [held_out_count(n) for n in (20, 45, 60, 100, 150, 199, 250, 1000)]
    assert counts == [4, 4, 6, 10, 15, 20, 20, 20]
    assert images_needed(4) == 20


def test_held_out_images_are_a_validation_concept_never_trained_on(tmp_path: Path) -> None:
    sets = [tmp_path / "faery", tmp_path / "portrait"]
    make_images(sets[0], 30, captions=True)
    make_images(sets[1], 25, captions=True)
    built = build(tmp_path, sets)
    built.write()
    run = tmp_path / "run"
    config = json.loads((run / "config.json").read_text())
    assert config["validation"] is True
    assert (config["validate_after"], config["validate_after_unit"]) == (
        config["save_every"],
        config["save_every_unit"],
    )
    concepts = config["concepts"]
    assert [c["name"] for c in concepts] == ["faery", "portrait", VALIDATION_CONCEPT]
    assert [c["type"] for c in concepts] == ["STANDARD", "STANDARD", "VALIDATION"]
    validation = concepts[2]
    assert validation["path"] == str(run / "validation") and validation["include_subdirectories"] is True

    held = files_under(run / "validation")
    trained = {f"{c['name']}/{name}" for c in concepts[:2] for name in files_under(Path(c["path"]))}
    everything = {f"{s.name}/{name}" for s in sets for name in files_under(s)}
    held_images = {name for name in held if name.endswith(".png")}
    assert len(held_images) == held_out_count(55) == 6
    assert not held & trained  # never overlapping
    assert held | trained == everything  # nothing lost; captions travel with their image
    assert {name[:-4] + ".txt" for name in held_images} <= held
    # hard links: the dataset's own files, no copies
    some = sorted(held_images)[0]
    assert (run / "validation" / some).stat().st_ino == (tmp_path / some).stat().st_ino
    # the plan counts the training images only and says how many are held out
    assert built.plan.images == 49 and built.plan.validation_images == 6
    assert any("6 images held out" in line for line in built.describe())
    assert all(point.validation_step is not None for point in built.plan.saves if not point.final)


def test_the_split_is_the_same_on_every_run_and_a_rerun_leaves_no_stale_file(tmp_path: Path) -> None:
    folder = tmp_path / "faery"
    make_images(folder, 40, captions=True)
    build(tmp_path, [folder]).write()
    first = files_under(tmp_path / "run" / "validation")
    (tmp_path / "run" / "validation" / "faery" / "stray.png").write_bytes(b"")
    build(tmp_path, [folder]).write()
    assert files_under(tmp_path / "run" / "validation") == first
    other = build(tmp_path, [folder], run_dir=tmp_path / "elsewhere")
    other.write()
    assert files_under(tmp_path / "elsewhere" / "validation") == first
    assert not list((tmp_path / "run").glob("*.partial")) and not list((tmp_path / "run").glob("*.old"))
    # more images move few of the earlier choices: the draw ranks each image by its own hash
    make_images(folder, 60, captions=True)
    build(tmp_path, [folder]).write()
    now = files_under(tmp_path / "run" / "validation")
    assert len({n for n in now if n.endswith(".png")}) == 6
    assert len({n for n in first if n.endswith(".png")} & now) >= 3


def test_too_few_images_are_refused_with_the_number_needed(tmp_path: Path) -> None:
    folder = tmp_path / "faery"
    make_images(folder, 12, captions=True)
    with pytest.raises(DatasetError, match=r"12 kept images .* at least 20 kept images \(8 more\)"):
        build(tmp_path, [folder])
    assert not (tmp_path / "run").exists()
    built = build(tmp_path, [folder], validation=False)
    assert built.plan.validation_images == 0 and built.links == {}
    assert [c.type.value for c in built.concepts] == ["STANDARD"]
    assert built.concepts[0].path == str(folder)
    assert built.config.validation is False
    assert any("Validation: off" in line for line in built.describe())


def test_every_set_keeps_an_image_to_train_on(tmp_path: Path) -> None:
    sets = [tmp_path / "big", tmp_path / "one"]
    make_images(sets[0], 30, captions=True)
    make_images(sets[1], 1, captions=True)
    built = build(tmp_path, sets)
    assert built.plan.concepts[1].images == 1


def test_cli_refuses_a_small_dataset_in_one_line_and_no_validation_turns_it_off(tmp_path: Path) -> None:
    folder = tmp_path / "faery"
    make_images(folder, 10, captions=True)
    args = [
        "build-config", str(folder), "--preset", "lazy-sd15", "--base-model", BASE,
        "--output", str(tmp_path / "faery.safetensors"), "-o", str(tmp_path / "run"), "--dry-run",
    ]  # fmt: skip
    result = CliRunner().invoke(cli_module.cli, args)
    assert result.exit_code == 2
    message = result.output.strip()
    assert len(message.splitlines()) == 1 and "at least 20" in message and "--no-validation" in message
    result = CliRunner().invoke(cli_module.cli, [*args, "--no-validation"])
    assert result.exit_code == 0, result.output
    assert "Validation: off" in result.output
