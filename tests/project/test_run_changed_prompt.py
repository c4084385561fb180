"""``onelazy run`` after a set's prompt changed in onelazy.yaml: the old images go to
``.rejected/stale/`` and images of the new prompt are made; the stale note is never dropped."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from onelazy.pipeline import run_project
from tests.project.test_run_stages import make_project


def prompts(dataset: Path) -> dict[str, str]:
    lines = (dataset / "manifest.jsonl").read_text(encoding="utf-8").splitlines()
    return {entry["file"]: entry["prompt"] for entry in map(json.loads, lines)}


def test_a_changed_prompt_makes_images_of_the_new_prompt(world: dict[str, Any]) -> None:
    yaml_file = make_project(world)
    dataset = yaml_file.parent / "dataset"
    run_project(yaml_file, stop_after="generate")
    before = sorted(p.relative_to(dataset).as_posix() for p in dataset.glob("*/*.png"))
    text = yaml_file.read_text(encoding="utf-8")
    yaml_file.write_text(
        text.replace("photo of a faery, forest", "photo of a faery, meadow"), encoding="utf-8"
    )

    lines: list[str] = []
    run_project(yaml_file, echo=lines.append, stop_after="generate")
    assert lines[0].startswith("generate: runs (generate.sets.0.prompt ")
    assert any(
        line.startswith(f"generate: Replaced {len(before)} images made with other settings") for line in lines
    )
    made = prompts(dataset)
    assert {made[name] for name in before} == {"photo of a faery, meadow"}
    assert {made[f".rejected/stale/{name}"] for name in before} == {"photo of a faery, forest"}
    assert all((dataset / ".rejected" / "stale" / name).is_file() for name in before)


def test_run_shows_the_stale_note_when_it_does_not_replace(world: dict[str, Any]) -> None:
    """Images from a standalone generate with another prompt, then a first run: kept, and said so."""
    from onelazy.generation import generate

    yaml_file = make_project(world)
    text = yaml_file.read_text(encoding="utf-8")
    yaml_file.write_text(
        text.replace("photo of a faery, forest", "photo of a faery, meadow"), encoding="utf-8"
    )
    generate(yaml_file, yaml_file.parent / "dataset")
    yaml_file.write_text(text, encoding="utf-8")
    yaml_file.write_text(
        yaml_file.read_text(encoding="utf-8").replace("count: 6", "count: 7", 1), encoding="utf-8"
    )
    lines: list[str] = []
    run_project(yaml_file, echo=lines.append, stop_after="generate")
    assert lines[0] == "generate: runs (not finished: 1 images missing)"
    assert any(
        line.startswith("generate: Note: 12 of the images already there were made with other settings")
        for line in lines
    ), lines


def test_status_does_not_count_a_replaced_image_as_made(world: dict[str, Any]) -> None:
    from onelazy.pipeline import project_status

    yaml_file = make_project(world)
    dataset = yaml_file.parent / "dataset"
    run_project(yaml_file, stop_after="generate")
    text = yaml_file.read_text(encoding="utf-8")
    yaml_file.write_text(
        text.replace("photo of a faery, forest", "photo of a faery, meadow"), encoding="utf-8"
    )
    run_project(yaml_file, stop_after="generate")
    for image in (dataset / "upright").glob("*.png"):  # the new images gone, the old ones still aside
        image.unlink()
    (generate,) = [s for s in project_status(yaml_file) if s.stage == "generate"]
    assert generate.detail == "6/12 images" and generate.state == "stale"
