"""``onelazy run`` from a fresh folder to a picked LoRA, against the stand-in ComfyUI and the
stand-in OneTrainer: init, fill the three values, run, Ctrl+C in every stage and run again,
status, a changed value, compare, --pick. Every check is on disk."""

from __future__ import annotations

import json
import os
import signal
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from onelazy.cli import cli
from onelazy.pipeline import run_project
from onelazy.training import Saved
from tests.project.standins import FolderComfy
from tests.training.standin import make_onetrainer

IMAGES_PER_SET = 6


class Interrupt:
    """Raises KeyboardInterrupt (what Ctrl+C does in the main thread) when a condition is first met."""

    def __init__(self, stage: str, when: Any) -> None:
        self.stage, self.when, self.fired = stage, when, False

    def __call__(self, stage: str, text: str) -> None:
        if not self.fired and stage == self.stage and self.when(text):
            self.fired = True
            raise KeyboardInterrupt


@pytest.fixture
def setup(tmp_path: Path, onetrainer_facts: Path) -> Iterator[dict[str, Any]]:
    onetrainer = make_onetrainer(tmp_path / "OneTrainer", onetrainer_facts)
    loras = tmp_path / "ComfyUI" / "models" / "loras"
    loras.mkdir(parents=True)
    model = tmp_path / "models" / "tiny-sd15"
    model.mkdir(parents=True)
    (model / "model_index.json").write_text("{}", encoding="utf-8")
    with FolderComfy(loras) as server:
        yield {"onetrainer": onetrainer, "loras": loras, "model": model, "server": server, "base": tmp_path}


def fill_in(path: Path, setup: dict[str, Any]) -> None:
    """What the person does after init: the three values, plus this machine's small test sizes."""
    text = path.read_text(encoding="utf-8")
    replacements = {
        "prompt: &prompt FILL IN": 'prompt: &prompt "photo of a faery, forest"',
        "model: FILL IN": "model: tiny_sd15.safetensors",
        "lora_dir: FILL IN": f"lora_dir: {setup['loras']}",
        # not part of the recipe: tiny images and a short run, so the test is quick
        "count: 100": f"count: {IMAGES_PER_SET}",
        "min_side: 512": "min_side: 16",
        "# total_steps: 2000": "total_steps: 16",
        "base_model: stable-diffusion-v1-5/stable-diffusion-v1-5": f"base_model: {setup['model']}",
        "train_device: cuda": "train_device: cpu",
    }
    for old, new in replacements.items():
        assert old in text, old
        text = text.replace(old, new)
    path.write_text(text, encoding="utf-8")


def state(project: Path) -> dict[str, Any]:
    stages: dict[str, Any] = json.loads((project / ".onelazy" / "state.json").read_text(encoding="utf-8"))[
        "stages"
    ]
    return stages


def actions(summary: Any) -> dict[str, str]:
    return {result.stage: result.action for result in summary.results}


def make_distinct(event: Any) -> None:
    """The stand-in writes the same bytes for every checkpoint; real training never does. Give each
    saved LoRA its own bytes (same format) as soon as it is on disk."""
    if isinstance(event, Saved) and event.kind in ("save", "final") and event.path.is_file():
        header = json.dumps({"__metadata__": {"step": str(event.global_step), "kind": event.kind}}).encode()
        event.path.write_bytes(len(header).to_bytes(8, "little") + header)


def no_temporaries(folder: Path) -> None:
    leftovers = [p for p in folder.rglob(".*.tmp")]
    assert not leftovers, leftovers


def test_fresh_folder_to_picked_lora(setup: dict[str, Any]) -> None:
    runner = CliRunner()
    project = setup["base"] / "faery"
    server = setup["server"]
    loras: Path = setup["loras"]

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
            str(setup["onetrainer"]),
        ],
    )
    assert result.exit_code == 0, result.output
    assert "Fill in these 3 values" in result.output
    yaml_file = project / "onelazy.yaml"
    result = runner.invoke(cli, ["run", str(yaml_file)])
    assert result.exit_code == 2 and "still says FILL IN" in result.output
    fill_in(yaml_file, setup)
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
        make_distinct(event)
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

    # -- run again: training continues from the backup, then Ctrl+C while comparing
    lines.clear()
    with pytest.raises(KeyboardInterrupt):
        run_project(
            yaml_file,
            echo=lines.append,
            on_progress=Interrupt("compare", lambda text: text.startswith("2/")),
            on_training_event=make_distinct,
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
    assert cells["rows"][0] == "no LoRA" and len(cells["rows"]) == 7  # no LoRA + 5 saves + final
    assert server.renders - renders == len(cells["files"]) - 2
    assert (run / "compare" / "grid.png").stat().st_size > 10_000
    assert (run / "compare" / "index.html").is_file()

    # -- status: every stage done, with counts
    result = runner.invoke(cli, ["status", str(yaml_file)])
    assert result.exit_code == 0, result.output
    assert "generate      done     12/12 images" in result.output
    assert "launch        done     finished at step 21" in result.output

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
    assert server.renders - renders == 6  # one new weight x 6 checkpoints; the no-LoRA image is reused

    # -- pick a checkpoint: it becomes the LoRA, the trained final model is kept as .bak
    output = project / "faery.safetensors"
    final = output.read_bytes()
    save = next((run / "workspace" / "save").glob("*-save-15-*.safetensors"))
    result = runner.invoke(cli, ["compare", str(run), "--pick", "15"])
    assert result.exit_code == 0, result.output
    assert (
        output.read_bytes() == save.read_bytes() and (project / "faery.safetensors.bak").read_bytes() == final
    )
    summary = run_project(yaml_file)
    assert set(actions(summary).values()) == {"skipped"}, actions(summary)
    no_temporaries(project)
