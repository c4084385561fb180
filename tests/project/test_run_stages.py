"""``onelazy run`` stage by stage: culled images count as generated, an emptied set is left out of
training, the review pause, CLI wiring of compare and status."""

from __future__ import annotations

import json
import os
import re
import signal
import threading
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from onelazy.cli import cli
from onelazy.pipeline import project_status, run_project
from onelazy.project import init_project
from tests.project.helpers import actions, fill_in, state


def make_project(world: dict[str, Any], *, same_size: bool = False) -> Path:
    result = init_project(
        world["base"] / "faery", name="faery", backend="comfyui", url=world["server"].url,
        onetrainer=str(world["onetrainer"]),
    )  # fmt: skip
    fill_in(result.path, world)
    if same_size:  # both sets then render the very same images: every second one is a duplicate
        text = result.path.read_text(encoding="utf-8")
        text = text.replace("width: 768\n      height: 512", "width: 512\n      height: 768")
        result.path.write_text(text, encoding="utf-8")
    return result.path


def test_culled_images_count_as_generated_and_an_empty_set_is_left_out(world: dict[str, Any]) -> None:
    yaml_file = make_project(world, same_size=True)
    dataset = yaml_file.parent / "dataset"
    summary = run_project(yaml_file, stop_after="review")
    assert actions(summary) == {"generate": "ran", "cull": "ran"}
    report = json.loads((dataset / "cull-report.json").read_text(encoding="utf-8"))
    rejected = [f for f in report["files"] if f["status"] == "rejected"]
    assert len(rejected) == 6 and {f["reason"] for f in rejected} == {"duplicate"}
    assert not [p for p in (dataset / "wide").glob("*.png")]

    lines: list[str] = []
    summary = run_project(yaml_file, echo=lines.append, stop_after="build-config")
    assert actions(summary) == {"generate": "skipped", "cull": "skipped", "build-config": "ran"}
    assert "generate: skipped (done: 12/12 images)" in lines
    assert any("not trained on: wide" in line for line in lines)
    config = json.loads((yaml_file.parent / "run" / "config.json").read_text(encoding="utf-8"))
    assert [Path(c["path"]).name for c in config["concepts"]] == ["upright"]
    statuses = {s.stage: s for s in project_status(yaml_file)}
    assert statuses["cull"].detail == "kept 6, rejected 6"
    assert statuses["launch"].state == "pending"


def test_review_pause_serves_the_page_until_ctrl_c_then_continues_once(world: dict[str, Any]) -> None:
    yaml_file = make_project(world)
    lines: list[str] = []

    def echo(line: str) -> None:
        lines.append(line)
        if line.startswith("Reviewing "):  # the page is up: the person looks, then presses Ctrl+C
            threading.Timer(0.3, os.kill, (os.getpid(), signal.SIGINT)).start()

    summary = run_project(yaml_file, review=True, open_browser=False, echo=echo, stop_after="review")
    assert actions(summary)["review"] == "ran"
    assert any(line.startswith("Reviewing 12 images at http://127.0.0.1:") for line in lines)
    assert "review" in state(yaml_file.parent)
    again = run_project(yaml_file, review=True, open_browser=False, stop_after="review")
    assert "review" not in actions(again)  # reviewed for this cull result: no second pause


def test_compare_command_takes_the_project_beside_the_run(world: dict[str, Any]) -> None:
    yaml_file = make_project(world)
    runner = CliRunner()
    result = runner.invoke(cli, ["run", str(yaml_file), "--quiet"])
    assert result.exit_code == 0, result.output
    run = yaml_file.parent / "run"
    result = runner.invoke(cli, ["compare", str(run)])
    assert result.exit_code == 0, result.output
    assert "0 rendered" in result.output and str(run / "compare" / "grid.png") in result.output
    result = runner.invoke(cli, ["compare", str(run), "--weight", "0.5"])
    assert result.exit_code == 0 and "rendered, " in result.output
    cells = json.loads((run / "compare" / "cells.json").read_text(encoding="utf-8"))
    assert cells["weights"] == [0.5]
    result = runner.invoke(cli, ["compare", str(run), "--pick", "4"])
    assert result.exit_code == 2 and "Error: --pick: no checkpoint at step 4" in result.output
    (yaml_file).rename(yaml_file.with_name("elsewhere.yaml"))
    result = runner.invoke(cli, ["compare", str(run)])
    assert result.exit_code == 2 and "give --backend, --url, --model, --lora-dir, --prompt" in result.output


def test_a_raised_count_adds_images_without_bringing_back_the_culled(world: dict[str, Any]) -> None:
    yaml_file = make_project(world, same_size=True)
    dataset = yaml_file.parent / "dataset"
    run_project(yaml_file, stop_after="cull")
    text = yaml_file.read_text(encoding="utf-8").replace("count: 6", "count: 7", 1)
    yaml_file.write_text(text, encoding="utf-8")
    statuses = {s.stage: s for s in project_status(yaml_file)}
    assert statuses["generate"].state == "stale"
    assert statuses["generate"].reason == "generate.sets.0.count 6 -> 7"
    assert statuses["cull"].reason == "a stage before it will run again"
    lines: list[str] = []
    run_project(yaml_file, echo=lines.append, stop_after="cull")
    assert lines[:4] == [
        "generate: runs (generate.sets.0.count 6 -> 7)",
        "generate: done (13/13 images)",
        "cull: runs (generate ran again)",
        "cull: done (kept 7, rejected 6)",
    ]
    assert len(list((dataset / "upright").glob("*.png"))) == 7
    assert not list((dataset / "wide").glob("*.png"))  # the six duplicates stay culled


def test_when_cull_rejects_every_image_the_run_says_what_to_do(world: dict[str, Any]) -> None:
    yaml_file = make_project(world)
    text = yaml_file.read_text(encoding="utf-8")
    yaml_file.write_text(text.replace("min_side: 16", "min_side: 4096"), encoding="utf-8")
    result = CliRunner().invoke(cli, ["run", str(yaml_file), "--stop-after", "build-config"])
    assert result.exit_code == 1, result.output
    last = result.output.strip().splitlines()[-1]
    assert last.startswith("Error: cull rejected every image (12 of 12: too-small 12 by cull.min_side: 4096)")
    assert "or switch the check off with cull.skip" in last  # run has no --min-size or --skip
    assert "cull-report.html" in last and f"`onelazy cull {yaml_file.parent / 'dataset'} --undo`" in last
    assert "flat" not in last and "--recursive" not in last
    assert not (yaml_file.parent / "run" / "config.json").exists()
    # again: cull measures its own rejects afresh and says the same
    again = CliRunner().invoke(cli, ["run", str(yaml_file), "--stop-after", "build-config"])
    assert again.exit_code == 1 and again.output.strip().splitlines()[-1] == last


def test_ctrl_c_before_the_first_backup_does_not_promise_one(world: dict[str, Any]) -> None:
    from onelazy.training import Started

    yaml_file = make_project(world)
    run_project(yaml_file, stop_after="build-config")

    def ctrl_c_at_start(event: Any) -> None:
        if isinstance(event, Started):
            os.kill(os.getpid(), signal.SIGINT)

    lines: list[str] = []
    summary = run_project(yaml_file, echo=lines.append, on_training_event=ctrl_c_at_start)
    assert summary.outcome == "interrupted"
    assert not (yaml_file.parent / "run" / "workspace" / "backup").exists()
    assert (
        "launch: interrupted before OneTrainer saved a backup; `onelazy run` again starts training "
        "from the beginning." in lines
    )
    assert not any("saved a backup." in line for line in lines)


def test_a_wrong_onetrainer_folder_stops_the_run_before_generating(world: dict[str, Any]) -> None:
    from onelazy.errors import OneTrainerNotFound

    yaml_file = make_project(world)
    text = yaml_file.read_text(encoding="utf-8")
    yaml_file.write_text(
        text.replace(str(world["onetrainer"]), str(world["base"] / "nowhere")), encoding="utf-8"
    )
    with pytest.raises(
        OneTrainerNotFound, match=r"nowhere \(from onelazy.yaml: onetrainer\) is not a folder"
    ):
        run_project(yaml_file)
    assert not (yaml_file.parent / "dataset").exists()
    # without training in this run, OneTrainer is not needed yet
    summary = run_project(yaml_file, stop_after="generate")
    assert actions(summary) == {"generate": "ran"}


def test_run_without_a_onetrainer_names_the_files_key_not_a_flag_run_lacks(
    world: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    yaml_file = make_project(world)
    text = yaml_file.read_text(encoding="utf-8")
    yaml_file.write_text(re.sub(r"(?m)^onetrainer: .*$", "onetrainer:", text), encoding="utf-8")
    monkeypatch.delenv("ONETRAINER_DIR", raising=False)
    result = CliRunner().invoke(cli, ["run", str(yaml_file)])
    assert result.exit_code != 0
    assert "no OneTrainer given: set onetrainer: in onelazy.yaml or set ONETRAINER_DIR" in result.output
    assert "--onetrainer" not in result.output


def test_status_survives_a_manifest_torn_in_the_middle_of_a_character(world: dict[str, Any]) -> None:
    yaml_file = make_project(world)
    run_project(yaml_file, stop_after="generate")
    manifest = yaml_file.parent / "dataset" / "manifest.jsonl"
    with manifest.open("ab") as handle:  # a kill during an append of "café": half of the é
        handle.write(b'{"set": "upright", "index": 99, "prompt": "caf\xc3')
    statuses = {s.stage: s for s in project_status(yaml_file)}
    assert statuses["generate"].detail == "12/12 images"


def test_status_counts_lines_by_newline_only_and_a_last_line_missing_just_its_newline(
    world: dict[str, Any],
) -> None:
    yaml_file = make_project(world)
    run_project(yaml_file, stop_after="generate")
    manifest = yaml_file.parent / "dataset" / "manifest.jsonl"
    entries = [json.loads(line) for line in manifest.read_bytes().split(b"\n") if line]
    # a prompt may hold U+2028 or NEL, written raw (ensure_ascii=False): still one line each
    lines = [json.dumps({**e, "prompt": "a\u2028b\x85c"}, ensure_ascii=False) for e in entries]
    manifest.write_text("\n".join(lines), encoding="utf-8")  # the last one cut just before "\n"
    statuses = {s.stage: s for s in project_status(yaml_file)}
    assert statuses["generate"].detail == "12/12 images"


def step_of(save: Path) -> int:
    """The step in OneTrainer's save name (``<prefix><time>-save-<step>-<epoch>-<epoch_step>``)."""
    return int(save.name.split("-save-")[1].split("-")[0])


def test_a_retrain_compares_only_its_own_checkpoints_and_keeps_the_picked_lora(world: dict[str, Any]) -> None:
    """After a pick, a changed config trains afresh: the earlier saves, backups and picked LoRA move to
    workspace/earlier/<time>/ (said, nothing deleted) before OneTrainer writes; the new training's
    parts before and after a Ctrl+C are all compared, none of the earlier training's."""
    from onelazy.comparison import find_checkpoints
    from onelazy.training import Saved

    yaml_file = make_project(world)
    project, run = yaml_file.parent, yaml_file.parent / "run"
    saves, output = run / "workspace" / "save", yaml_file.parent / "faery.safetensors"
    assert run_project(yaml_file).outcome == "finished"
    earlier_saves = {p.name: p.read_bytes() for p in saves.iterdir()}
    assert len(earlier_saves) == 3
    earlier_logs = {p.name for p in (run / "workspace" / "tensorboard").iterdir() if p.is_dir()}
    assert len(earlier_logs) == 1
    assert CliRunner().invoke(cli, ["compare", str(run), "--pick", "15"]).exit_code == 0
    picked, final = output.read_bytes(), (project / "faery.final-21.safetensors").read_bytes()

    text = yaml_file.read_text(encoding="utf-8").replace("total_steps: 16", "total_steps: 24")
    yaml_file.write_text(text, encoding="utf-8")
    first_save: list[Path] = []

    def ctrl_c_after_first_save(event: Any) -> None:
        if isinstance(event, Saved) and event.kind == "save" and not first_save:
            first_save.append(Path(event.path))
            os.kill(os.getpid(), signal.SIGINT)

    lines: list[str] = []
    summary = run_project(yaml_file, echo=lines.append, on_training_event=ctrl_c_after_first_save)
    assert summary.outcome == "interrupted" and first_save
    (earlier,) = (run / "workspace" / "earlier").iterdir()
    aside = earlier / "faery.picked-15.safetensors"
    assert f"launch: {output} (picked step 15) moved to {aside}; the new training writes a new one." in lines
    assert aside.read_bytes() == picked and (earlier / "faery.final-21.safetensors").read_bytes() == final
    assert {p.name: p.read_bytes() for p in (earlier / "save").iterdir()} == earlier_saves
    # its TensorBoard logs too: the losses compare shows are the new training's alone
    assert {p.name for p in (earlier / "tensorboard").iterdir()} == earlier_logs
    assert not earlier_logs & {p.name for p in (run / "workspace" / "tensorboard").iterdir()}
    assert not set(earlier_saves) & {p.name for p in saves.iterdir()}

    lines.clear()
    assert run_project(yaml_file, echo=lines.append).outcome == "finished"
    assert any("continuing from OneTrainer's last backup" in line for line in lines)
    assert not any("moved to" in line for line in lines)  # continuing: the new training's files stay
    found = find_checkpoints(run)
    compared = [c for c in found if c.kind == "save"]
    # a step saved again after resuming (from the backup made just before it) counts once
    assert {c.step for c in compared} == {step_of(p) for p in saves.iterdir()}
    assert all(c.path.parent == saves for c in compared)
    assert step_of(first_save[0]) == compared[0].step  # the part before Ctrl+C is compared too
    assert found[-1].kind == "final" and found[-1].path == output and output.read_bytes() != picked
    cells = json.loads((run / "compare" / "cells.json").read_text(encoding="utf-8"))
    assert cells["rows"] == ["no LoRA", *(c.label for c in found)]
    assert (earlier / "faery.picked-15.safetensors").is_file()  # still there after the second run


def test_a_retrain_stopped_before_its_first_backup_starts_over_not_from_the_earlier_one(
    world: dict[str, Any],
) -> None:
    """The earlier training's backups moved aside: nothing of the old config is continued."""
    from onelazy.training import Started

    yaml_file = make_project(world)
    assert run_project(yaml_file).outcome == "finished"
    text = yaml_file.read_text(encoding="utf-8").replace("total_steps: 16", "total_steps: 24")
    yaml_file.write_text(text, encoding="utf-8")

    def ctrl_c_at_start(event: Any) -> None:
        if isinstance(event, Started):
            os.kill(os.getpid(), signal.SIGINT)

    lines: list[str] = []
    stopped = run_project(yaml_file, echo=lines.append, on_training_event=ctrl_c_at_start)
    assert stopped.outcome == "interrupted"
    assert any("before OneTrainer saved a backup" in line for line in lines)
    lines.clear()
    assert run_project(yaml_file, echo=lines.append).outcome == "finished"
    assert not any("continuing from OneTrainer's last backup" in line for line in lines), lines
    log = (yaml_file.parent / "run" / "launch.log").read_text(encoding="utf-8")
    assert "Continuing training from backup" not in log
