"""Every stage sees the same dataset: a cull that runs again after a threshold change, build-config on
generate's own output, and one dataset of every kind of file that all stages agree on."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from click.testing import CliRunner
from PIL import Image

from onelazy.cli import cli
from onelazy.culling import reject_by_hand
from onelazy.pipeline import project_status, run_project
from tests.project.helpers import actions
from tests.project.test_run_stages import make_project


def _set_min_side(yaml_file: Path, side: int) -> None:
    text = yaml_file.read_text(encoding="utf-8")
    old = next(line for line in text.splitlines() if line.strip().startswith("min_side:"))
    yaml_file.write_text(text.replace(old, f"  min_side: {side}"), encoding="utf-8")


def test_a_rerun_after_a_looser_threshold_brings_the_rejects_back_to_training(world: dict[str, Any]) -> None:
    yaml_file = make_project(world)
    text = yaml_file.read_text(encoding="utf-8")  # upright renders 64x64 stand-in images, wide 48x32
    yaml_file.write_text(text.replace("width: 512\n      height: 768", "width: 1024\n      height: 1024"))
    dataset = yaml_file.parent / "dataset"
    _set_min_side(yaml_file, 40)
    run_project(yaml_file, stop_after="review")
    assert not list((dataset / "wide").glob("*.png"))  # the whole wide set is too small
    assert project_status(yaml_file)[1].detail == "kept 6, rejected 6"

    _set_min_side(yaml_file, 16)
    lines: list[str] = []
    summary = run_project(yaml_file, echo=lines.append, stop_after="build-config")
    assert actions(summary) == {"generate": "skipped", "cull": "ran", "build-config": "ran"}
    assert "cull: runs (cull.min_side 40 -> 16)" in lines
    assert "cull: done (kept 12, rejected 0)" in lines
    assert len(list((dataset / "wide").glob("*.png"))) == 6 and not (dataset / ".rejected").exists()
    config = json.loads((yaml_file.parent / "run" / "config.json").read_text(encoding="utf-8"))
    assert [Path(c["path"]).name for c in config["concepts"]] == ["upright", "wide"]
    statuses = {s.stage: s for s in project_status(yaml_file)}
    assert statuses["generate"].detail == "12/12 images" and statuses["generate"].state == "done"
    assert statuses["cull"].detail == "kept 12, rejected 0" and statuses["cull"].state == "done"

    reject_by_hand(dataset, "wide/0003.png")  # in review
    _set_min_side(yaml_file, 20)
    lines.clear()
    run_project(yaml_file, echo=lines.append, stop_after="cull")
    assert "cull: done (kept 11, rejected 1, 1 by hand)" in lines
    assert (dataset / ".rejected" / "manual" / "wide" / "0003.png").is_file()
    assert project_status(yaml_file)[1].detail == "kept 11, rejected 1, 1 by hand"


def test_build_config_takes_generates_own_output_one_concept_per_set(world: dict[str, Any]) -> None:
    yaml_file = make_project(world)
    run_project(yaml_file, stop_after="cull")
    dataset = yaml_file.parent / "dataset"
    result = CliRunner().invoke(
        cli,
        [
            "build-config", str(dataset), "--preset", "lazy-sd15", "--base-model", str(world["model"]),
            "--output", str(world["base"] / "faery.safetensors"), "-o", str(world["base"] / "run"),
            "--total-steps", "16", "--no-validation", "--dry-run",
        ],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert result.output.startswith("12 images ÷ batch 4")  # both sets, not "use --recursive"
    from onelazy.build import build_config

    built = build_config(
        dataset,
        preset="lazy-sd15",
        base_model=str(world["model"]),
        output=world["base"] / "faery.safetensors",
        run_dir=world["base"] / "run",
        total_steps=16,
        validation=False,
    )
    assert [(c.name, Path(c.path)) for c in built.concepts] == [
        ("upright", dataset / "upright"),
        ("wide", dataset / "wide"),
    ]
    assert built.plan.images == 12


def _every_kind_of_file(dataset: Path) -> set[str]:
    """Into a generated set: every supported format, a hidden image, a link to nothing, an image
    without a caption, a mask, a .gif and a subfolder; the images of the dataset it then has."""
    import numpy as np

    folder = dataset / "upright"
    made = {f"upright/{p.name}" for p in folder.glob("*.png")}
    added = set()
    from onelazy.dataset import IMAGE_EXTENSIONS

    for number, extension in enumerate(sorted(IMAGE_EXTENSIONS)):
        pixels = np.random.default_rng(number).integers(0, 256, (40, 40, 3), dtype=np.uint8)
        name = f"extra{number}{extension.upper() if extension == '.jpg' else extension}"
        Image.fromarray(pixels).save(folder / name)
        (folder / name).with_suffix(".txt").write_text(f"extra {number}\n")
        added.add(f"upright/{name}")
    hidden = np.random.default_rng(50).integers(0, 256, (40, 40, 3), dtype=np.uint8)
    Image.fromarray(hidden).save(folder / ".hidden.png")
    (folder / ".hidden.txt").write_text("hidden\n")
    no_caption = np.random.default_rng(51).integers(0, 256, (40, 40, 3), dtype=np.uint8)
    Image.fromarray(no_caption).save(folder / "uncaptioned.png")
    os.symlink(folder / "gone.png", folder / "dangling.png")
    Image.new("L", (40, 40)).save(folder / "extra0-masklabel.png")
    Image.new("RGB", (40, 40)).save(folder / "animated.gif")
    (folder / "old").mkdir()
    Image.new("RGB", (40, 40)).save(folder / "old" / "deeper.png")
    return made | added | {"upright/.hidden.png", "upright/uncaptioned.png", "upright/dangling.png"}


def test_every_stage_agrees_on_the_images_a_dataset_has(world: dict[str, Any]) -> None:
    from onelazy.build import build_config
    from onelazy.culling import cull
    from onelazy.dataset import find_images
    from onelazy.review._server import ReviewSession
    from onelazy.training.preflight import count_images

    yaml_file = make_project(world)
    run_project(yaml_file, stop_after="generate")
    dataset = yaml_file.parent / "dataset"
    expected = _every_kind_of_file(dataset) | {f"wide/{p.name}" for p in (dataset / "wide").glob("*.png")}
    upright = {name.split("/", 1)[1] for name in expected if name.startswith("upright/")}

    assert set(find_images(dataset, depth=1)) == expected
    dry = cull(dataset, dry_run=True, min_side=16, workers=1, skip=["flat", "blurry", "near-duplicate"])
    assert {d.file for d in dry.decisions} == expected  # cull
    assert {d.file for d in dry.rejected} == {"upright/dangling.png"}
    assert set(ReviewSession(dataset).files) == expected  # review
    assert count_images(dataset / "upright", False) == len(upright)  # preflight
    statuses = {s.stage: s for s in project_status(yaml_file)}  # status
    assert statuses["build-config"].detail == f"{len(expected)} images to train on"
    assert statuses["generate"].detail == "12/12 images"  # generate: what it made, all there

    # cull moves the link to nothing aside; then build-config trains on exactly the rest
    cull(dataset, min_side=16, workers=1, skip=["flat", "blurry", "near-duplicate"])
    kept = expected - {"upright/dangling.png"}
    built = build_config(
        dataset,
        preset="lazy-sd15",
        base_model=str(world["model"]),
        output=world["base"] / "faery.safetensors",
        run_dir=world["base"] / "run",
        total_steps=16,
        prompt_source="filename",
        validation=False,
    )
    assert [Path(c.path) for c in built.concepts] == [dataset / "upright", dataset / "wide"]
    assert built.plan.images == len(kept)
    assert {s.stage: s for s in project_status(yaml_file)}["build-config"].detail == (
        f"{len(kept)} images to train on"
    )
    assert count_images(dataset / "upright", False) == len(upright) - 1
    assert set(ReviewSession(dataset).files) == kept
    assert statuses["generate"].state == {s.stage: s for s in project_status(yaml_file)}["generate"].state


def test_status_and_generate_count_the_same_images_as_made(world: dict[str, Any]) -> None:
    """One rule for "made": the file the manifest line names, with the recorded sha256. A file that
    exists but was overwritten, or a culled image whose moved file is gone, is not made for either."""
    from onelazy.generation import generate

    yaml_file = make_project(world)
    run_project(yaml_file, stop_after="review")
    dataset = yaml_file.parent / "dataset"
    Image.new("RGB", (48, 32), (1, 2, 3)).save(dataset / "upright" / "0001.png")  # other bytes
    manifest = [json.loads(line) for line in (dataset / "manifest.jsonl").read_text().splitlines()]
    culled = next((m for m in manifest if "rejected" in m), None)
    if culled is None:  # nothing culled: cull one by hand, then lose its moved file
        reject_by_hand(dataset, "wide/0002.png")
        manifest = [json.loads(line) for line in (dataset / "manifest.jsonl").read_text().splitlines()]
        culled = next(m for m in manifest if "rejected" in m)
    (dataset / culled["file"]).unlink()

    status = {s.stage: s for s in project_status(yaml_file)}["generate"]
    assert status.detail == "10/12 images" and status.state == "stale"
    from onelazy.project import load_project

    summary = generate(load_project(yaml_file).generate_config(), dataset)
    assert (summary.made, summary.skipped) == (2, 10)
    assert {s.stage: s for s in project_status(yaml_file)}["generate"].detail == "12/12 images"
