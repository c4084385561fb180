"""``onelazy run`` from a fresh folder to a picked LoRA, against the stand-in ComfyUI and the
stand-in OneTrainer: init, fill the three values, run, Ctrl+C in every stage and run again,
status, a changed value, compare, --pick. Every check is on disk."""

from __future__ import annotations

import json
import os
import signal
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from onelazy.cli import cli
from onelazy.pipeline import run_project
from onelazy.training import Saved
from tests.project.helpers import (
    IMAGES_PER_SET,
    Interrupt,
    actions,
    fill_in,
    no_temporaries,
    state,
)


def test_fresh_folder_to_picked_lora(world: dict[str, Any]) -> None:
    runner = CliRunner()
    project = world["base"] / "faery"
    server = world["server"]
    loras: Path = world["loras"]

    # -- init: a file that names the three values to fill in
    result = runner.invoke(
        cli,
        [
            "init",
            str(project),
            "--backend",
            "comfyui",
            "--url",
            server.url,
            "--onetrainer",
            str(world["onetrainer"]),
        ],
    )
    assert result.exit_code == 0, result.output
    assert "Fill in these 3 values" in result.output
    yaml_file = project / "onelazy.yaml"
    result = runner.invoke(cli, ["run", str(yaml_file)])
    assert result.exit_code == 2 and "still says FILL IN" in result.output
    fill_in(yaml_file, world)
    dataset = project / "dataset"

    # -- Ctrl+C while generating: some images, nothing partial, nothing recorded
    with pytest.raises(KeyboardInterrupt):
        run_project(yaml_file, on_progress=Interrupt("generate", lambda text: text.startswith("4/")))
    manifest = (dataset / "manifest.jsonl").read_text(encoding="utf-8").splitlines()
    assert 4 <= len(manifest) < 2 * IMAGES_PER_SET
    no_temporaries(dataset)
    assert not (project / ".onelazy" / "state.json").exists()

    # -- Ctrl+C while culling: generate finished and recorded, cull moved nothing
    lines: list[str] = []
    with pytest.raises(KeyboardInterrupt):
        run_project(yaml_file, echo=lines.append, on_progress=Interrupt("cull", lambda text: True))
    # the interrupted stage runs again and says how far it got
    assert any(
        line.startswith("generate: runs (not finished: ") and "images missing)" in line for line in lines
    )
    assert len((dataset / "manifest.jsonl").read_text(encoding="utf-8").splitlines()) == 2 * IMAGES_PER_SET
    assert set(state(project)) == {"generate"}
    assert not (dataset / "cull-report.json").exists()

    # -- Ctrl+C as build-config starts: cull recorded, no config written
    def stop_at_build(line: str) -> None:
        lines.append(line)
        if line.startswith("build-config: runs"):
            raise KeyboardInterrupt

    lines.clear()
    with pytest.raises(KeyboardInterrupt):
        run_project(yaml_file, echo=stop_at_build)
    assert "generate: skipped (done: 12/12 images)" in lines
    assert (dataset / "cull-report.json").is_file() and set(state(project)) == {"generate", "cull"}
    assert not (project / "run" / "config.json").exists()

    # -- Ctrl+C during training (a real SIGINT): OneTrainer saves a backup and the final model
    def ctrl_c_after_first_save(event: Any) -> None:
        if (
            isinstance(event, Saved)
            and event.kind == "save"
            and not getattr(ctrl_c_after_first_save, "sent", False)
        ):
            ctrl_c_after_first_save.sent = True  # type: ignore[attr-defined]
            os.kill(os.getpid(), signal.SIGINT)

    summary = run_project(yaml_file, on_training_event=ctrl_c_after_first_save)
    assert summary.outcome == "interrupted" and summary.exit_code == 130
    run = project / "run"
    assert (run / "config.json").is_file() and list((run / "workspace" / "backup").iterdir())
    assert "launch" not in state(project) and state(project)["launch-attempt"]["outcome"] == "interrupted"
    result = runner.invoke(cli, ["status", str(yaml_file)])
    assert "launch        pending  interrupted at step" in result.output
    assert "(not finished: training did not finish; `onelazy run` continues it)" in result.output

    # -- run again: training continues from the backup, then Ctrl+C while comparing
    lines.clear()
    with pytest.raises(KeyboardInterrupt):
        run_project(
            yaml_file,
            echo=lines.append,
            on_progress=Interrupt("compare", lambda text: text.startswith("2/")),
        )
    assert "build-config: skipped (done: 21 steps, 7 epochs, 4 checkpoints)" in lines
    assert any("continuing from OneTrainer's last backup" in line for line in lines)
    resumed = json.loads((run / "config.resume.json").read_text(encoding="utf-8"))
    assert resumed["continue_last_backup"] is True and resumed["__version"] == 11
    assert state(project)["launch"]["outcome"] == "finished"
    assert not [p for p in loras.iterdir() if p.name.startswith("onelazy-")], "LoRA copies left behind"
    assert len(list((run / "compare" / "images").iterdir())) == 2

    # -- run again: only the missing comparison images are rendered
    renders = server.renders
    lines.clear()
    summary = run_project(yaml_file, echo=lines.append)
    assert summary.outcome == "finished"
    assert actions(summary) == {
        "generate": "skipped",
        "cull": "skipped",
        "build-config": "skipped",
        "launch": "skipped",
        "compare": "ran",
    }
    cells = json.loads((run / "compare" / "cells.json").read_text(encoding="utf-8"))
    # the plan's saves (every 4 steps after the first 8: steps 11, 15, 19) and the final model (21)
    assert cells["rows"] == [
        "no LoRA",
        "step 11, epoch 3",
        "step 15, epoch 5",
        "step 19, epoch 6",
        "final (step 21, epoch 7)",
    ]
    assert server.renders - renders == len(cells["files"]) - 2
    assert (run / "compare" / "grid.png").stat().st_size > 10_000
    assert (run / "compare" / "index.html").is_file()

    # -- status: every stage done, with counts
    result = runner.invoke(cli, ["status", str(yaml_file)])
    assert result.exit_code == 0, result.output
    assert "generate      done     12/12 images" in result.output
    assert "launch        done     finished at step 21" in result.output
    assert "picked: none yet (the LoRA is the final model)" in result.output

    # -- a changed value: only the stages it feeds run again, and the run says why
    text = yaml_file.read_text(encoding="utf-8").replace("weights: [0.7, 1.0]", "weights: [0.7, 1.0, 1.2]")
    yaml_file.write_text(text, encoding="utf-8")
    result = runner.invoke(cli, ["status", str(yaml_file)])
    assert (
        "compare       stale" in result.output
        and "compare.weights [0.7, 1.0] -> [0.7, 1.0, 1.2]" in result.output
    )
    renders = server.renders
    lines.clear()
    summary = run_project(yaml_file, echo=lines.append)
    assert actions(summary)["compare"] == "ran" and actions(summary)["launch"] == "skipped"
    assert server.renders - renders == 4  # one new weight x 4 checkpoints; the no-LoRA image is reused

    # -- pick a checkpoint: it becomes the LoRA, the trained final model is kept under its own name
    output = project / "faery.safetensors"
    final = output.read_bytes()
    kept = project / "faery.final-21.safetensors"
    saves = run / "workspace" / "save"
    assert "(steps: 11, 15, 19, 21 (final))" in lines[-1]
    result = runner.invoke(cli, ["compare", str(run), "--pick", "15"])
    assert result.exit_code == 0, result.output
    assert f"The trained final model is kept as {kept}" in result.output
    assert output.read_bytes() == next(saves.glob("*-save-15-*")).read_bytes() and kept.read_bytes() == final
    # a second pick: the final model is still there, and still a row of the comparison
    result = runner.invoke(cli, ["compare", str(run), "--pick", "19"])
    assert result.exit_code == 0 and kept.read_bytes() == final
    result = runner.invoke(cli, ["compare", str(run)])
    assert result.exit_code == 0 and "0 rendered" in result.output, result.output
    cells = json.loads((run / "compare" / "cells.json").read_text(encoding="utf-8"))
    assert cells["rows"][-1] == "final (step 21, epoch 7)"
    # and back to it
    result = runner.invoke(cli, ["compare", str(run), "--pick", "21"])
    assert result.exit_code == 0 and output.read_bytes() == final, result.output
    result = runner.invoke(cli, ["compare", str(run), "--pick", "nope"])
    assert result.exit_code == 2 and "neither a step number nor 'final'" in result.output
    result = runner.invoke(cli, ["compare", str(run), "--pick", "final"])
    assert result.exit_code == 0 and "already is final (step 21, epoch 7)" in result.output
    runner.invoke(cli, ["compare", str(run), "--pick", "15"])
    result = runner.invoke(cli, ["status", str(yaml_file)])
    assert "picked: step 15, epoch 5" in result.output, result.output
    summary = run_project(yaml_file)
    assert set(actions(summary).values()) == {"skipped"}, actions(summary)
    no_temporaries(project)
