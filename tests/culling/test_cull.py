"""cull(): every planted problem caught, nothing clean lost, moves with captions, undo, report, manifest."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

import onelazy
from onelazy.cli import cli
from onelazy.culling import REPORT_NAME, CullReport, cull, undo_cull
from onelazy.errors import DatasetError, EverythingRejected, StorageError
from onelazy.review._server import ReviewSession
from tests.culling import corpus
from tests.culling.conftest import snapshot

SMALL = {"min_side": 100}  # the test corpus is 256 px; its planted tiny images are 64 px


def _rejected(report: onelazy.culling.CullReport) -> dict[str, str]:
    return {d.file: str(d.reason) for d in report.rejected}


def test_every_planted_problem_is_caught_and_nothing_clean_is_lost(
    dataset: tuple[Path, corpus.Truth],
) -> None:
    folder, truth = dataset
    report = cull(folder, dry_run=True, workers=1, **SMALL)
    rejected = _rejected(report)
    assert {name: rejected.get(name) for name in truth.broken} == dict.fromkeys(truth.broken, "unreadable")
    assert {name: rejected.get(name) for name in truth.tiny} == dict.fromkeys(truth.tiny, "too-small")
    assert {name: rejected.get(name) for name in truth.flat} == dict.fromkeys(truth.flat, "flat")
    assert {name: rejected.get(name) for name in truth.blurry} == dict.fromkeys(truth.blurry, "blurry")
    for group in truth.groups:  # one kept per planted group, the others rejected as its near-duplicates
        kept = [name for name in group if name not in rejected]
        assert len(kept) == 1, group
        for name in group:
            if name != kept[0]:
                decision = next(d for d in report.decisions if d.file == name)
                assert decision.reason in ("near-duplicate", "duplicate")
                assert decision.keeper == kept[0]
                assert decision.message.startswith(f"{decision.reason} of {kept[0]}")
    for pair in truth.exact:
        assert sorted(rejected.get(name, "kept") for name in pair) == ["duplicate", "kept"]
    assert not [name for name in truth.clean if name in rejected]
    by_name = {d.file: d for d in report.decisions}
    assert "named .png" in by_name[next(n for n in truth.broken if "named" in by_name[n].message)].message
    assert by_name[truth.broken[0]].message == "unreadable: empty file (0 bytes)"


def test_keeps_the_sharpest_then_largest_then_first_by_name(tmp_path: Path) -> None:
    from PIL import Image, ImageFilter

    folder = tmp_path / "ds"
    folder.mkdir()
    original = corpus.generated_looking(5, 256)
    original.save(folder / "b.png")
    original.save(folder / "a.png")  # same pixels and size as b.png: a.png comes first by name
    original.filter(ImageFilter.GaussianBlur(0.8)).save(folder / "0-soft.png")  # first by name, less sharp
    Image.fromarray(np.asarray(original)[2:-2, 2:-2]).save(folder / "0-crop.png")  # as sharp, smaller
    for seed in range(6):  # unrelated images so the dataset has a real median
        corpus.generated_looking(100 + seed, 256).save(folder / f"other{seed}.png")
    report = cull(folder, dry_run=True, workers=1, min_side=100, skip=["blurry"])
    by_name = {d.file: d for d in report.decisions}
    group = ["0-crop.png", "0-soft.png", "a.png", "b.png"]
    sharpness = {name: by_name[name].measures["sharpness"] for name in group}
    assert sharpness["a.png"] == sharpness["b.png"] > sharpness["0-soft.png"]
    assert sharpness["a.png"] >= sharpness["0-crop.png"]
    assert by_name["a.png"].status == "kept"
    assert by_name["b.png"].reason == "duplicate" and by_name["b.png"].keeper == "a.png"
    for name in ("0-soft.png", "0-crop.png"):
        assert by_name[name].reason == "near-duplicate" and by_name[name].keeper == "a.png"
        assert by_name[name].message == f"near-duplicate of a.png (distance {by_name[name].distance})"
    assert all(by_name[f"other{seed}.png"].status == "kept" for seed in range(6))


def test_moves_rejects_with_captions_writes_report_and_undo_restores_everything(
    dataset: tuple[Path, corpus.Truth],
) -> None:
    folder, _truth = dataset
    before = snapshot(folder)
    report = cull(folder, workers=1, **SMALL)
    assert report.rejected
    for decision in report.rejected:
        assert decision.moved_to == f".rejected/{decision.reason}/{decision.file}"
        assert (folder / decision.moved_to).is_file()
        assert not (folder / decision.file).exists()
        caption = Path(decision.moved_to).with_suffix(".txt")
        assert (folder / caption).read_text() == f"a photo, file {Path(decision.file).stem}\n"
        assert not (folder / decision.file).with_suffix(".txt").exists()
    for decision in report.kept:
        assert (folder / decision.file).is_file()
        assert (folder / decision.file).with_suffix(".txt").is_file()
    data = json.loads((folder / REPORT_NAME).read_text())
    assert data["format"] == "onelazy-cull-report"
    assert data["summary"]["kept"] == len(report.kept)
    assert data["summary"]["rejected_by_reason"] == {k: v for k, v in report.counts().items() if k != "kept"}
    entries = {e["file"]: e for e in data["files"]}
    assert set(entries) == {d.file for d in report.decisions}
    near = next(d for d in report.rejected if d.reason == "near-duplicate")
    assert entries[near.file]["keeper"] == near.keeper
    assert isinstance(entries[near.file]["distance"], int)
    assert set(entries[report.kept[0].file]["measures"]) >= {"sharpness", "contrast", "phash", "width"}
    html = (folder / "cull-report.html").read_text()
    for reason in report.counts():
        if reason != "kept":
            assert f"id='{reason}'" in html
    assert f'src="{near.moved_to}"' in html and f'src="{near.keeper}"' in html

    restored = undo_cull(folder)
    assert sorted(restored) == sorted(d.file for d in report.rejected)
    after = snapshot(folder)
    for name in ("cull-report.json", "cull-report.html"):
        after.pop(name)
    assert after == before
    assert not (folder / ".rejected").exists()
    data = json.loads((folder / REPORT_NAME).read_text())
    assert data["summary"]["rejected"] == 0


def test_a_second_run_measures_its_own_rejects_again_and_rejects_them_once(
    dataset: tuple[Path, corpus.Truth],
) -> None:
    folder, _truth = dataset
    first = cull(folder, workers=1, **SMALL)
    second = cull(folder, workers=1, **SMALL)
    assert len(second.decisions) == len(first.decisions)  # everything measured, rejects included
    assert _rejected(second) == _rejected(first)
    assert {d.file: d.moved_to for d in second.rejected} == {d.file: d.moved_to for d in first.rejected}
    data = json.loads((folder / REPORT_NAME).read_text())
    assert data["summary"]["rejected"] == len(first.rejected)  # each reject once, not once per run
    restored = undo_cull(folder)
    assert len(restored) == len(first.rejected)


def test_dry_run_changes_nothing(dataset: tuple[Path, corpus.Truth]) -> None:
    folder, _ = dataset
    before = snapshot(folder)
    report = cull(folder, dry_run=True, workers=1, **SMALL)
    assert report.rejected and all(d.moved_to is None for d in report.rejected)
    assert snapshot(folder) == before


def test_manifest_entries_follow_their_files_and_come_back_on_undo(
    dataset: tuple[Path, corpus.Truth],
) -> None:
    folder, _ = dataset
    names = sorted(p.name for p in folder.iterdir() if p.suffix != ".txt")
    lines = [
        json.dumps(
            {
                "set": "main",
                "index": i,
                "file": name,
                "caption_file": str(Path(name).with_suffix(".txt")),
                "prompt": "a photo",
                "seed": i,
                "sha256": hashlib.sha256((folder / name).read_bytes()).hexdigest(),
            }
        )
        for i, name in enumerate(names)
    ]
    lines.insert(3, "not json, kept as it is")
    (folder / "manifest.jsonl").write_text("\n".join(lines) + "\n")
    report = cull(folder, workers=1, **SMALL)
    rejected = {d.file: d for d in report.rejected}
    out = (folder / "manifest.jsonl").read_text().splitlines()
    assert len(out) == len(lines) and out[3] == "not json, kept as it is"
    for line in out[:3] + out[4:]:
        entry = json.loads(line)
        # every entry names an existing file with its recorded hash, as generate checks on a rerun
        assert hashlib.sha256((folder / entry["file"]).read_bytes()).hexdigest() == entry["sha256"]
        assert (folder / entry["caption_file"]).is_file()
        if entry.get("original_file") in rejected:
            decision = rejected[entry["original_file"]]
            assert entry["file"] == decision.moved_to and entry["rejected"] == decision.reason
        else:
            assert "rejected" not in entry and entry["file"] not in rejected
        assert entry["prompt"] == "a photo"
    assert sum(1 for line in out if '"rejected"' in line) == len(rejected)
    undo_cull(folder)
    assert [
        json.loads(x) if x[0] == "{" else x for x in (folder / "manifest.jsonl").read_text().splitlines()
    ] == [json.loads(x) if x[0] == "{" else x for x in lines]


def test_process_pool_decides_the_same_as_one_process(dataset: tuple[Path, corpus.Truth]) -> None:
    folder, _ = dataset
    serial = cull(folder, dry_run=True, workers=1, **SMALL)
    pooled = cull(folder, dry_run=True, workers=2, **SMALL)
    assert [(d.file, d.reason, d.message) for d in pooled.decisions] == [
        (d.file, d.reason, d.message) for d in serial.decisions
    ]


# --------------------------------------------------------------------------- bad input


def test_not_a_folder_and_missing_folder(tmp_path: Path) -> None:
    file = tmp_path / "image.png"
    file.write_bytes(b"x")
    with pytest.raises(DatasetError, match="not a folder"):
        cull(file)
    with pytest.raises(DatasetError, match="no such folder"):
        cull(tmp_path / "nope")
    result = CliRunner().invoke(cli, ["cull", str(tmp_path / "nope")])
    assert result.exit_code == 2
    assert result.output.strip() == f"Error: {tmp_path / 'nope'}: no such folder"


def test_empty_folder(tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("captions only")
    with pytest.raises(DatasetError, match="no images in this folder"):
        cull(tmp_path)
    assert sorted(os.listdir(tmp_path)) == ["notes.txt"]


def test_unwritable_folder_is_refused_before_anything_happens(dataset: tuple[Path, corpus.Truth]) -> None:
    source, _ = dataset
    holder = Path(tempfile.mkdtemp(prefix="onelazy-unwritable-"))
    try:
        holder.chmod(0o755)
        folder = holder / "dataset"
        shutil.copytree(source, folder)
        folder.chmod(0o555)
        before = snapshot(folder)
        message = _cull_as_unprivileged(folder)
        assert "folder is not writable" in message and "`onelazy cull --dry-run` only looks" in message
        assert snapshot(folder) == before
        # review has no --dry-run: its message says what it would write and what to do instead
        message = _cull_as_unprivileged(folder, lambda: ReviewSession(folder))
        assert "folder is not writable" in message and "review a writable copy" in message
        assert "--dry-run" not in message
        assert snapshot(folder) == before
    finally:
        (holder / "dataset").chmod(0o755)
        shutil.rmtree(holder)


def _cull_as_unprivileged(folder: Path, action: Callable[[], object] | None = None) -> str:
    """Run cull (or ``action``) and return its error message; as root, in a forked child that drops
    to 'nobody'."""
    action = action or (lambda: cull(folder, workers=1))
    if os.geteuid() != 0:
        with pytest.raises(DatasetError) as caught:
            action()
        return str(caught.value)
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # child: root ignores permissions, so become an ordinary user first
        os.close(read_end)
        text = "no error"
        try:
            os.setgid(65534)
            os.setuid(65534)
            action()
        except BaseException as exc:
            text = f"{type(exc).__name__}: {exc}"
        os.write(write_end, text.encode())
        os._exit(0)
    os.close(write_end)
    with os.fdopen(read_end, "rb") as pipe:
        text = pipe.read().decode()
    os.waitpid(pid, 0)
    assert text.startswith("DatasetError: "), text
    return text


def test_a_file_vanishing_while_measuring_stops_with_nothing_moved(
    dataset: tuple[Path, corpus.Truth],
) -> None:
    folder, truth = dataset
    victim = folder / truth.clean[-1]
    before = snapshot(folder)

    def progress(stage: str, done: int, total: int) -> None:
        if stage == "measure" and victim.exists():
            victim.unlink()

    with pytest.raises(StorageError, match=f"{victim.name}: the file disappeared.*nothing was moved"):
        cull(folder, workers=1, progress=progress, **SMALL)
    before.pop(victim.name)
    assert snapshot(folder) == before


def test_a_reject_vanishing_before_its_move_reverses_the_moves_done(
    dataset: tuple[Path, corpus.Truth],
) -> None:
    folder, truth = dataset
    victim = folder / truth.flat[-1]  # rejected late in the batch (flat files come after the blurry ones)
    before = snapshot(folder)

    def progress(stage: str, done: int, total: int) -> None:
        if stage == "move":
            victim.unlink()

    with pytest.raises(StorageError, match=f"{victim.name}: disappeared before it could be moved"):
        cull(folder, workers=1, progress=progress, **SMALL)
    before.pop(victim.name)
    assert snapshot(folder) == before
    assert not (folder / REPORT_NAME).exists()


def test_bad_options_are_one_line_usage_errors(dataset: tuple[Path, corpus.Truth]) -> None:
    folder, _ = dataset
    with pytest.raises(DatasetError, match="skip: unknown check sharpness; allowed: too-small"):
        cull(folder, skip=["sharpness"])
    result = CliRunner().invoke(cli, ["cull", str(folder), "--aspect", "wide"])
    assert result.exit_code == 2 and "is not MIN:MAX" in result.output


# --------------------------------------------------------------------------- the command


def test_cli_dry_run_prints_decisions_and_table(dataset: tuple[Path, corpus.Truth]) -> None:
    folder, truth = dataset
    result = CliRunner().invoke(
        cli, ["cull", str(folder), "--dry-run", "--min-size", "100", "--workers", "1"]
    )
    assert result.exit_code == 0, result.output
    assert f"would reject {truth.broken[0]}: unreadable: empty file (0 bytes)" in result.output
    assert "dry run: nothing was moved" in result.output and "rejected: near-duplicate" in result.output
    assert not (folder / ".rejected").exists()


def test_cli_prints_plain_lines_when_stdout_is_not_a_terminal(dataset: tuple[Path, corpus.Truth]) -> None:
    folder, _ = dataset
    result = CliRunner().invoke(cli, ["cull", str(folder), "--min-size", "100", "--workers", "1"])
    assert result.exit_code == 0, result.output
    report = json.loads((folder / REPORT_NAME).read_text())
    assert f"  kept: {report['summary']['kept']}\n" in result.output
    assert f"  total: {len(report['files'])}\n" in result.output
    assert not set("─━│┃┏┓┗┛┡┩└┘") & set(result.output)  # no box drawing in a log or pipe


def test_cli_runs_and_undoes(dataset: tuple[Path, corpus.Truth]) -> None:
    folder, _ = dataset
    result = CliRunner().invoke(cli, ["cull", str(folder), "--min-size", "100", "--workers", "1"])
    assert result.exit_code == 0, result.output
    assert "cull-report.html" in result.output
    moved = len(list((folder / ".rejected").rglob("*.png")))
    result = CliRunner().invoke(cli, ["cull", str(folder), "--undo"])
    assert result.exit_code == 0 and "Put back" in result.output
    assert moved > 0 and not (folder / ".rejected").exists()


def test_help_states_the_default_distance_the_library_uses() -> None:
    from onelazy.cli import cull as cull_cli
    from onelazy.culling import (
        CHECKS,
        DEFAULT_BLUR_RATIO,
        DEFAULT_FLAT_RATIO,
        DEFAULT_MIN_SIDE,
        DEFAULT_NEAR_DISTANCE,
    )

    assert cull_cli._DEFAULT_NEAR_DISTANCE == DEFAULT_NEAR_DISTANCE
    assert cull_cli._DEFAULT_BLUR_RATIO == DEFAULT_BLUR_RATIO
    assert cull_cli._DEFAULT_FLAT_RATIO == DEFAULT_FLAT_RATIO
    assert cull_cli._DEFAULT_MIN_SIDE == DEFAULT_MIN_SIDE
    assert cull_cli._CHECKS == CHECKS
    result = CliRunner().invoke(cli, ["cull", "--help"])
    assert "[default: 10;" in result.output and "Example:" in result.output


def test_public_api_and_a_light_command_module() -> None:
    assert onelazy.cull is cull
    assert onelazy.undo_cull is undo_cull
    probe = "import sys, onelazy.cli.cull; print(sorted({'PIL', 'numpy', 'rich'} & set(sys.modules)))"
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_a_dying_worker_process_is_one_clear_error(
    dataset: tuple[Path, corpus.Truth], monkeypatch: pytest.MonkeyPatch
) -> None:
    from onelazy.culling import _cull

    folder, _ = dataset
    before = snapshot(folder)
    monkeypatch.setattr(_cull, "measure_many", _die)  # the workers are forked with this in place
    with pytest.raises(StorageError, match=r"a decoding process died .* --workers 1"):
        cull(folder, workers=2, **SMALL)
    assert snapshot(folder) == before


def _die(root: str, relatives: list[str]) -> list[object]:
    os._exit(9)


def test_a_cull_that_rejects_every_image_fails_and_names_the_threshold_and_undo(
    dataset: tuple[Path, corpus.Truth],
) -> None:
    folder, _truth = dataset
    before = snapshot(folder)
    with pytest.raises(EverythingRejected) as dry:
        cull(folder, dry_run=True, workers=1, min_side=100000)
    assert snapshot(folder) == before
    assert "cull would reject every image" in str(dry.value) and "nothing was moved" in str(dry.value)
    assert "--undo" not in str(dry.value)

    result = CliRunner().invoke(cli, ["cull", str(folder), "--min-size", "100000", "--workers", "1"])
    assert result.exit_code == 1, result.output
    assert isinstance(dry.value.report, CullReport)
    total = len(dry.value.report.decisions)
    assert "kept: 0" in result.output  # the decisions are shown before the error
    last = result.output.strip().splitlines()[-1]
    assert last.startswith(f"Error: cull rejected every image ({total} of {total}: ")
    assert "too-small" in last and "by --min-size 100000" in last and "--skip" in last
    assert f"`onelazy cull {folder} --undo` puts them back" in last
    # every image was measured as too small before flatness: no note about a flat dataset
    assert "flat" not in result.output
    report = json.loads((folder / REPORT_NAME).read_text())
    assert report["notes"] == [] and all(f["status"] == "rejected" for f in report["files"])
    assert CliRunner().invoke(cli, ["cull", str(folder), "--undo"]).exit_code == 0
    after = snapshot(folder)
    assert {name: after.get(name) for name in before} == before


def test_undo_without_a_report_says_so(tmp_path: Path) -> None:
    result = CliRunner().invoke(cli, ["cull", str(tmp_path), "--undo"])
    assert result.exit_code == 2
    assert "no cull-report.json here, so there is nothing to undo" in result.output


def test_a_manifest_whose_last_line_a_kill_cut_mid_character_is_read_leniently(
    dataset: tuple[Path, corpus.Truth],
) -> None:
    folder, truth = dataset
    broken = truth.broken[0]
    whole = json.dumps({"set": "main", "index": 0, "file": broken, "prompt": "café"}, ensure_ascii=False)
    torn = json.dumps({"set": "main", "index": 1, "file": "x.png", "prompt": "☕ café"}, ensure_ascii=False)
    torn_bytes = torn.encode("utf-8")[: torn.encode("utf-8").index("☕".encode()) + 1]  # half a character
    (folder / "manifest.jsonl").write_bytes(whole.encode("utf-8") + b"\n" + torn_bytes)
    result = CliRunner().invoke(cli, ["cull", str(folder), "--workers", "1", *("--min-size", "100")])
    assert result.exit_code == 0, result.output
    first, rest = (folder / "manifest.jsonl").read_bytes().split(b"\n", 1)
    entry = json.loads(first)
    assert entry["original_file"] == broken and entry["rejected"] == "unreadable"
    assert rest == torn_bytes  # still last and unterminated: generate sees it torn and drops it
    undo = CliRunner().invoke(cli, ["cull", str(folder), "--undo"])
    assert undo.exit_code == 0, undo.output
    assert (folder / "manifest.jsonl").read_bytes() == whole.encode("utf-8") + b"\n" + torn_bytes


def test_a_dataset_of_flat_colours_says_the_fixed_minimum_decided_not_a_product_that_does_not_add_up(
    tmp_path: Path,
) -> None:
    from PIL import Image

    for n, colour in enumerate([(0, 0, 0), (255, 255, 255), (200, 30, 30), (30, 200, 30), (30, 30, 200)]):
        Image.new("RGB", (128, 128), colour).save(tmp_path / f"plain{n}.png")
    with pytest.raises(EverythingRejected) as caught:
        cull(tmp_path, dry_run=True, min_side=64, workers=1)
    assert (
        "(5 of 5: flat 5 by the fixed minimum contrast 1), so nothing is left to train on; loosen it "
        "(--flat-threshold under 1)"
    ) in str(caught.value)
    report = caught.value.report
    assert isinstance(report, CullReport)
    assert _rejected(report) == {f"plain{n}.png": "flat" for n in range(5)}
    for decision in report.rejected:
        assert "x the dataset's median 0.0" not in decision.message  # 0.1 x 0.0 is not 1.0
        assert decision.message == (
            "flat: grey standard deviation 0.0 under 1.0, the minimum for any image (most of this "
            "dataset is flat, so its median 0.0 gives nothing to compare with)"
        )
    assert report.notes == [
        "flat: 5 of 5 images are a single flat colour (grey standard deviation under 1); with most of "
        "the dataset flat, its median (0.0) is no yardstick for --flat-ratio, so only the fixed "
        "minimum 1 was applied"
    ]
    result = CliRunner().invoke(cli, ["cull", str(tmp_path), "--dry-run", "--min-size", "64"])
    assert result.exit_code == 1, result.output  # every image would be rejected
    assert "note: flat: 5 of 5 images are a single flat colour" in result.output


def test_edgeless_images_say_the_blur_check_could_not_run(tmp_path: Path) -> None:
    from PIL import Image

    for n in range(3):  # flat colours with the flat check off: no edge anywhere, median sharpness 0
        Image.new("RGB", (128, 128), (60 * n, 90, 120)).save(tmp_path / f"plain{n}.png")
    report = cull(tmp_path, dry_run=True, min_side=64, workers=1, skip=["flat", "near-duplicate"])
    assert report.rejected == []
    assert report.notes == [
        "blurry: not checked: most images have no edges at all (median sharpness 0.0), so --blur-ratio "
        "has nothing to compare with; give --blur-threshold to check them"
    ]


def test_reject_and_restore_by_hand_round_trip_with_caption_report_and_manifest(tmp_path: Path) -> None:
    from PIL import Image

    from onelazy.culling import reject_by_hand, restore_by_hand

    folder = tmp_path / "dataset"
    (folder / "main").mkdir(parents=True)
    Image.new("RGB", (128, 128), (200, 30, 30)).save(folder / "main" / "0000.png")
    (folder / "main" / "0000.txt").write_text("a faery", encoding="utf-8")
    line = {"set": "main", "index": 0, "file": "main/0000.png", "caption_file": "main/0000.txt"}
    (folder / "manifest.jsonl").write_text(json.dumps(line) + "\n", encoding="utf-8")
    before = snapshot(folder)

    rejected = reject_by_hand(folder, "main/0000.png")
    assert not (folder / "main" / "0000.png").exists() and not (folder / "main" / "0000.txt").exists()
    assert json.loads((folder / "manifest.jsonl").read_text())["file"] == rejected["moved_to"]

    entry = restore_by_hand(folder, "main/0000.png")
    assert entry["status"] == "kept" and entry["reason"] is None
    assert entry["message"] == "restored (was rejected: manual)"
    assert "moved_to" not in entry and "companions" not in entry
    assert json.loads((folder / "manifest.jsonl").read_text()) == line
    assert not (folder / ".rejected").exists()
    after = snapshot(folder)
    for name in ("cull-report.json", "cull-report.html"):
        after.pop(name)
    assert after == before
    with pytest.raises(DatasetError, match="not a rejected file"):
        restore_by_hand(folder, "main/0000.png")


@pytest.mark.parametrize("action", ["cull", "undo", "reject by hand", "restore by hand"])
def test_a_failure_after_the_moves_puts_everything_back(
    dataset: tuple[Path, corpus.Truth], action: str
) -> None:
    """All or nothing: the contact sheet cannot be written (a folder stands in its place), so the
    moves already made are reversed and the report and manifest are as they were."""
    from onelazy.culling import reject_by_hand, restore_by_hand

    folder, _truth = dataset
    (folder / "manifest.jsonl").write_text('{"set": "main", "index": 0, "file": "x.png"}\n')
    cull(folder, workers=1, **SMALL)
    (folder / "cull-report.html").unlink()
    (folder / "cull-report.html").mkdir()
    before = snapshot(folder)
    kept = next(n for n in sorted(before) if n.endswith(".png") and not n.startswith("."))
    rejected = next(n for n in sorted(before) if n.startswith(".rejected/") and n.endswith(".png"))
    report = json.loads((folder / REPORT_NAME).read_text())
    restorable = next(e["file"] for e in report["files"] if e.get("moved_to") == rejected)
    calls: dict[str, Callable[[], object]] = {
        "cull": lambda: cull(folder, workers=1, min_side=100000),
        "undo": lambda: undo_cull(folder),
        "reject by hand": lambda: reject_by_hand(folder, kept),
        "restore by hand": lambda: restore_by_hand(folder, restorable),
    }
    with pytest.raises(StorageError, match=r"cull-report\.html: cannot write: it is a folder"):
        calls[action]()
    assert snapshot(folder) == before
