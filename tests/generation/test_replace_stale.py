"""``generate --replace-stale``: images made with other settings than their set asks for now move to
``.rejected/stale/`` (nothing deleted, the manifest line follows them) and are made again, without
disturbing cull's rejects or its undo."""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path
from typing import Any

from click.testing import CliRunner

from onelazy.cli import cli
from onelazy.culling import reject_by_hand, undo_cull
from onelazy.generation import generate
from tests.generation.conftest import FAST_RETRY
from tests.generation.standins import ComfyStandin
from tests.generation.test_generate import manifest, write_config


def sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def by_file(dataset: Path) -> dict[str, dict[str, Any]]:
    return {entry["file"]: entry for entry in manifest(dataset)}


def test_a_changed_prompt_moves_the_old_images_aside_and_makes_new_ones(
    comfy: ComfyStandin, tmp_path: Path
) -> None:
    dataset = tmp_path / "dataset"
    config = write_config(tmp_path, [comfy.url], front=3, side=2)
    generate(config, dataset, retry=FAST_RETRY)
    old = {name: sha(dataset / "front" / name) for name in ("0000.png", "0001.png", "0002.png")}
    old_caption = (dataset / "front" / "0000.txt").read_text(encoding="utf-8")
    config.write_text(config.read_text().replace("front view", "back view"))

    result = CliRunner().invoke(cli, ["generate", str(config), "-o", str(dataset), "--replace-stale"])
    assert result.exit_code == 0, result.output
    assert "Made 3 images (2 already there)" in result.output
    assert f"Replaced 3 images made with other settings than their set has now (moved to {dataset}" in (
        result.output
    )
    assert "Note:" not in result.output  # nothing stale is left
    # the old images and their captions, moved whole; nothing deleted
    stale = dataset / ".rejected" / "stale" / "front"
    assert {name: sha(stale / name) for name in old} == old
    assert (stale / "0000.txt").read_text(encoding="utf-8") == old_caption
    # new images of the new prompt in their places, the side set untouched
    lines = by_file(dataset)
    for index in range(3):
        entry = lines[f"front/{index:04d}.png"]
        assert entry["prompt"] == "photo of a faery, back view" and "rejected" not in entry
        assert sha(dataset / entry["file"]) == entry["sha256"]
        moved = lines[f".rejected/stale/front/{index:04d}.png"]
        assert moved["prompt"] == "photo of a faery, front view"
        assert moved["rejected"] == "stale" and moved["original_file"] == f"front/{index:04d}.png"
        assert moved["caption_file"] == f".rejected/stale/front/{index:04d}.txt"
    assert sorted(p.name for p in (dataset / "side").glob("*.png")) == ["0000.png", "0001.png"]

    # a rerun keeps both kinds of line and makes nothing
    again = generate(config, dataset, retry=FAST_RETRY, replace_stale=True)
    assert (again.made, again.skipped, again.stale, again.replaced) == (0, 5, 0, 0)
    assert len(manifest(dataset)) == 8


def test_without_the_option_stale_images_stay_and_the_note_names_it(
    comfy: ComfyStandin, tmp_path: Path
) -> None:
    dataset = tmp_path / "dataset"
    config = write_config(tmp_path, [comfy.url], front=2, side=1)
    generate(config, dataset, retry=FAST_RETRY)
    config.write_text(config.read_text().replace("front view", "back view"))
    result = CliRunner().invoke(cli, ["generate", str(config), "-o", str(dataset)])
    assert result.exit_code == 0, result.output
    assert "generate --replace-stale moves them aside" in result.output
    assert not (dataset / ".rejected").exists()


def test_cull_rejects_and_undo_are_left_alone(comfy: ComfyStandin, tmp_path: Path) -> None:
    dataset = tmp_path / "dataset"
    config = write_config(tmp_path, [comfy.url], front=2, side=1)
    generate(config, dataset, retry=FAST_RETRY)
    reject_by_hand(dataset, "front/0001.png")  # culled before the prompt changed: stays culled
    config.write_text(config.read_text().replace("front view", "back view"))
    summary = generate(config, dataset, retry=FAST_RETRY, replace_stale=True)
    assert (summary.made, summary.replaced) == (1, 1)
    assert summary.stale == 0  # the culled one is not trained on: no note suggesting the option again
    assert (dataset / ".rejected" / "manual" / "front" / "0001.png").is_file()
    assert not (dataset / "front" / "0001.png").exists()

    # a new image rejected by hand and put back by undo: the stale line keeps pointing at its file
    reject_by_hand(dataset, "front/0000.png")
    assert sorted(undo_cull(dataset)) == ["front/0000.png", "front/0001.png"]
    lines = by_file(dataset)
    assert lines["front/0000.png"]["prompt"] == "photo of a faery, back view"
    assert lines["front/0001.png"]["prompt"] == "photo of a faery, front view"
    stale = lines[".rejected/stale/front/0000.png"]
    assert stale["rejected"] == "stale" and sha(dataset / stale["file"]) == stale["sha256"]
    for entry in lines.values():
        assert sha(dataset / entry["file"]) == entry["sha256"]
    report = json.loads((dataset / "cull-report.json").read_text(encoding="utf-8"))
    assert all("stale" not in str(entry.get("moved_to")) for entry in report["files"])


def test_a_model_name_the_server_completes_is_recorded_as_the_server_names_it(
    comfy: ComfyStandin, tmp_path: Path
) -> None:
    """``tiny_sd15`` renders with ComfyUI's ``tiny_sd15.safetensors``: the manifest says so, and
    neither that full name nor the short one makes the images stale afterwards."""
    dataset = tmp_path / "dataset"
    config = write_config(tmp_path, [comfy.url], front=2, side=1, model="tiny_sd15")
    generate(config, dataset, retry=FAST_RETRY)
    assert {entry["model"] for entry in manifest(dataset)} == {"tiny_sd15.safetensors"}

    for typed in ("tiny_sd15.safetensors", "tiny_sd15"):
        config.write_text(re.sub(r"model: \S+", f"model: {typed}", config.read_text()))
        again = generate(config, dataset, retry=FAST_RETRY, replace_stale=True)
        assert (again.made, again.skipped, again.stale, again.replaced) == (0, 3, 0, 0), typed
    assert not (dataset / ".rejected").exists()

    # another checkpoint is still another model
    config.write_text(re.sub(r"model: \S+", "model: sub/juggernaut_xl", config.read_text()))
    assert generate(config, dataset, retry=FAST_RETRY).stale == 3
