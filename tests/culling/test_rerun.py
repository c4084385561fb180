"""A cull that runs again decides its own rejects afresh; what counts as an image of a dataset."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from PIL import Image

from onelazy.culling import REPORT_NAME, CullReport, cull, reject_by_hand, undo_cull
from onelazy.dataset import IMAGE_EXTENSIONS, find_images


def _noise(width: int, height: int, seed: int) -> Image.Image:
    import numpy as np

    pixels = np.random.default_rng(seed).integers(0, 256, (height, width, 3), dtype=np.uint8)
    return Image.fromarray(pixels)


def _small_set(folder: Path, count: int = 6) -> list[str]:
    """``count`` distinct 48x32 images with captions in ``folder/main/``, and their manifest."""
    (folder / "main").mkdir(parents=True)
    lines = []
    for index in range(count):
        _noise(48, 32, index).save(folder / "main" / f"{index:04d}.png")
        (folder / "main" / f"{index:04d}.txt").write_text(f"caption {index}\n", encoding="utf-8")
        lines.append(
            {
                "set": "main",
                "index": index,
                "file": f"main/{index:04d}.png",
                "caption_file": f"main/{index:04d}.txt",
            }
        )
    (folder / "manifest.jsonl").write_text("".join(json.dumps(line) + "\n" for line in lines))
    return [f"main/{index:04d}.png" for index in range(count)]


QUIET = {"workers": 1, "skip": ["flat", "blurry", "near-duplicate"]}


def cull_rejecting_all(path: Path, **options: object) -> CullReport:
    """A cull that rejects every image moves them and fails (exit 1): its report comes with the error."""
    from onelazy.errors import EverythingRejected

    with pytest.raises(EverythingRejected) as caught:
        cull(path, **options)  # type: ignore[arg-type]
    assert isinstance(caught.value.report, CullReport)
    return caught.value.report


def test_a_looser_threshold_puts_back_what_now_passes(tmp_path: Path) -> None:
    images = _small_set(tmp_path)
    first = cull_rejecting_all(tmp_path, min_side=40, **QUIET)
    assert [d.file for d in first.rejected] == images  # all too small: nothing is left in place
    assert find_images(tmp_path / "main") == []

    again = cull(tmp_path, min_side=16, **QUIET)  # was "no images in this folder"
    assert [d.file for d in again.decisions] == images and again.rejected == []
    assert find_images(tmp_path / "main") == [Path(i).name for i in images]
    assert all((tmp_path / i).with_suffix(".txt").is_file() for i in images)  # captions came back
    assert not (tmp_path / ".rejected").exists()
    report = json.loads((tmp_path / REPORT_NAME).read_text())
    assert report["summary"] == {"kept": 6, "rejected": 0, "rejected_by_reason": {}}
    manifest = [json.loads(line) for line in (tmp_path / "manifest.jsonl").read_text().splitlines()]
    assert [m["file"] for m in manifest] == images and all("rejected" not in m for m in manifest)

    third = cull_rejecting_all(tmp_path, min_side=40, **QUIET)  # and tighter again rejects them again
    assert [d.file for d in third.rejected] == images
    manifest = [json.loads(line) for line in (tmp_path / "manifest.jsonl").read_text().splitlines()]
    assert all(m["rejected"] == "too-small" and m["original_file"] in images for m in manifest)
    assert sorted(undo_cull(tmp_path)) == images


def test_rejects_by_hand_stay_rejected_and_are_listed(tmp_path: Path) -> None:
    images = _small_set(tmp_path)
    cull_rejecting_all(tmp_path, min_side=40, **QUIET)
    cull(tmp_path, min_side=16, **QUIET)
    reject_by_hand(tmp_path, images[2])
    dry = cull(tmp_path, min_side=16, dry_run=True, **QUIET)
    assert dry.by_hand == [images[2]] and images[2] not in {d.file for d in dry.decisions}
    report = cull(tmp_path, min_side=16, **QUIET)
    assert report.by_hand == [images[2]]
    assert len(report.kept) == 5 and report.rejected == []
    assert (tmp_path / ".rejected" / "manual" / images[2]).is_file()
    summary = json.loads((tmp_path / REPORT_NAME).read_text())["summary"]
    assert summary == {"kept": 5, "rejected": 1, "rejected_by_reason": {"manual": 1}}


def test_a_dry_run_measures_the_earlier_rejects_where_they_lie(tmp_path: Path) -> None:
    images = _small_set(tmp_path)
    cull_rejecting_all(tmp_path, min_side=40, **QUIET)
    before = sorted(p.relative_to(tmp_path).as_posix() for p in tmp_path.rglob("*"))
    dry = cull(tmp_path, min_side=16, dry_run=True, **QUIET)
    assert [d.file for d in dry.kept] == images
    assert sorted(p.relative_to(tmp_path).as_posix() for p in tmp_path.rglob("*")) == before


def test_a_dangling_symlink_is_an_unreadable_image_not_a_failed_cull(tmp_path: Path) -> None:
    images = _small_set(tmp_path, count=3)
    os.symlink(tmp_path / "nowhere.png", tmp_path / "main" / "0009.png")
    (tmp_path / "main" / "0009.txt").write_text("its caption\n")
    report = cull(tmp_path, min_side=16, **QUIET)
    assert [d.file for d in report.kept] == images
    [broken] = report.rejected
    assert broken.file == "main/0009.png" and broken.reason == "unreadable"
    assert "symbolic link" in broken.message and "does not exist" in broken.message
    moved = tmp_path / ".rejected" / "unreadable" / "main" / "0009.png"
    assert moved.is_symlink() and (moved.with_suffix(".txt")).is_file()
    again = cull(tmp_path, min_side=16, **QUIET)  # measured again where it lies: still unreadable
    assert [d.file for d in again.rejected] == ["main/0009.png"]
    assert "main/0009.png" in undo_cull(tmp_path)
    assert (tmp_path / "main" / "0009.png").is_symlink()


@pytest.mark.parametrize("extension", sorted(IMAGE_EXTENSIONS))
def test_every_training_format_is_culled_and_a_gif_is_not_an_image(tmp_path: Path, extension: str) -> None:
    folder = tmp_path / "set"
    folder.mkdir()
    _noise(64, 64, 1).save(folder / f"a{extension}")
    _noise(64, 64, 2).save(folder / "b.gif")  # OneTrainer does not train on a .gif
    _noise(64, 64, 3).save(folder / ".hidden.png")  # OneTrainer trains on a hidden file
    report = cull(tmp_path, min_side=16, dry_run=True, **QUIET)
    assert {d.file: d.status for d in report.decisions} == {
        f"set/a{extension}": "kept",
        "set/.hidden.png": "kept",
    }


def test_the_command_lists_the_rejects_by_hand(tmp_path: Path) -> None:
    from click.testing import CliRunner

    from onelazy.cli import cli

    images = _small_set(tmp_path, count=3)
    reject_by_hand(tmp_path, images[1])
    result = CliRunner().invoke(
        cli, ["cull", str(tmp_path), "--min-size", "16", "--workers", "1", "--skip", "near-duplicate"]
    )
    assert result.exit_code == 0, result.output
    assert f"still rejected by hand in review (not measured again): {images[1]}" in result.output


def test_the_report_reads_back_as_typed_entries_that_count_as_the_file_does(tmp_path: Path) -> None:
    from onelazy.dataset.cull_report import CullEntry, read_cull_report

    images = _small_set(tmp_path, count=4)
    cull_rejecting_all(tmp_path, min_side=40, **QUIET)
    cull(tmp_path, min_side=16, **QUIET)
    reject_by_hand(tmp_path, images[0])
    record = read_cull_report(tmp_path)
    assert record is not None
    assert all(isinstance(entry, CullEntry) for entry in record.entries)
    assert [e.file for e in record.by_hand] == [images[0]]
    assert record.by_hand[0].moved_to == f".rejected/manual/{images[0]}"
    assert record.by_hand[0].companions == [{"from": "main/0000.txt", "to": ".rejected/manual/main/0000.txt"}]
    data = json.loads((tmp_path / REPORT_NAME).read_text())
    assert (
        record.summary() == data["summary"] == {"kept": 3, "rejected": 1, "rejected_by_reason": {"manual": 1}}
    )
    assert [e.to_json() for e in record.entries] == data["files"]
    data["files"].append({"status": "kept"})  # not an entry: no file
    (tmp_path / REPORT_NAME).write_text(json.dumps(data))
    again = read_cull_report(tmp_path)
    assert again is not None and len(again.entries) == 4
