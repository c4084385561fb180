"""The stand-in saves, backs up and samples when and where OneTrainer does - and so where the plan says.

``onelazy.plan`` promises the steps of the intermediate saves by replaying OneTrainer's interval rules.
The stand-in trainer applies those rules to the config it is given, the way OneTrainer's trainer does;
running it on each plan's config and reading back the files it wrote ties the promise to the trainer.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from onelazy.onetrainer.run_config import plan_values
from onelazy.plan import ConceptCount, TrainingPlan, make_plan
from tests.training.standin import SAVE_NAME, make_config, model_updates
from tests.training.test_standin import run_standin

Tree = Callable[..., Path]
Position = tuple[int, int, int]
SAMPLE = {"prompt": "a photo of a faery", "width": 8, "height": 8, "diffusion_steps": 2}


@dataclass
class Written:
    """What one stand-in run printed and left in its workspace."""

    out: str
    err: str
    workspace: Path
    destination: Path

    def positions(self, folder: str, kind: str) -> list[Position]:
        found = []
        for path in (self.workspace / folder).rglob("*"):
            match = SAVE_NAME.match(path.name)
            if match and match["kind"] == kind:
                found.append((int(match["step"]), int(match["epoch"]), int(match["epoch_step"])))
        return sorted(found)

    def saves(self) -> list[Path]:
        folder = self.workspace / "save"
        return (
            sorted(folder.iterdir(), key=lambda p: int(SAVE_NAME.match(p.name)["step"]))
            if folder.is_dir()
            else []
        )

    def announced(self, message: str) -> list[str]:
        return [line[len(message) :] for line in self.out.splitlines() if line.startswith(message)]

    def announced_steps(self, message: str) -> list[int]:
        """The steps in the names of the announced saves or backups (the final model has none)."""
        matches = (SAVE_NAME.match(Path(path).name) for path in self.announced(message))
        return [int(match["step"]) for match in matches if match]


def run(root: Path, config: Path, expect_code: int = 0) -> Written:
    code, out, err = run_standin(root, config)
    assert code == expect_code, err[-3000:]
    data = json.loads(config.read_text())
    return Written(out, err, Path(data["workspace_dir"]), Path(data["output_model_destination"]))


def plan_config(base: Path, facts: Path, plan: TrainingPlan, **overrides: Any) -> Path:
    """The config a launcher would write for ``plan`` (one concept; its images and balancing)."""
    (concept,) = plan.concepts
    path = make_config(
        base,
        facts,
        images=concept.images,
        gradient_accumulation_steps=plan.gradient_accumulation_steps,
        save_filename_prefix="faery-",
        samples=[SAMPLE],
        **plan_values(plan),
        **overrides,
    )
    data = json.loads(path.read_text())
    for entry in data["concepts"]:
        entry.update(balancing=concept.balancing, balancing_strategy=concept.balancing_strategy)
    path.write_text(json.dumps(data))
    return path


PLANS: dict[str, dict[str, Any]] = {
    # 8 epochs planned: saves every 2 epochs after the first 6, i.e. at the start of epochs 6 and 8
    "epochs": {"concepts": [ConceptCount("faery", 4)], "total_steps": 32},
    # 21 epochs rounded to 20: every 5 epochs after 15
    "epochs-rounded": {"concepts": [ConceptCount("faery", 2)], "total_steps": 42},
    # 5 epochs of 4 steps: every 5 steps after the first 10
    "steps": {"concepts": [ConceptCount("faery", 4)], "steps_per_image": 5},
    # the same with gradient accumulation: a save waits for the end of a cycle
    "steps-accumulated": {
        "concepts": [ConceptCount("faery", 4)],
        "steps_per_image": 5,
        "gradient_accumulation_steps": 2,
    },
    "steps-batch-2": {"concepts": [ConceptCount("faery", 8)], "total_steps": 26, "batch_size": 2},
    # 3 images repeated twice per epoch
    "steps-balanced": {"concepts": [ConceptCount("faery", 3, balancing=2.0)], "total_steps": 30},
    # 120 steps, interval 20 would save on the last step: the plan makes it 21
    "steps-shifted": {"concepts": [ConceptCount("faery", 40)], "total_steps": 80},
}


@pytest.mark.parametrize("name", list(PLANS))
def test_saves_and_samples_are_where_the_plan_says(
    name: str, fake_onetrainer: Tree, tmp_path: Path, onetrainer_facts: Path
) -> None:
    plan = make_plan(**PLANS[name])
    assert plan.save_every_unit == ("EPOCH" if name.startswith("epochs") else "STEP")
    assert plan.save_skip_first > 0
    if name == "steps-shifted":
        assert plan.save_every == 21
    root = fake_onetrainer(time_scale=0.005)
    written = run(root, plan_config(tmp_path, onetrainer_facts, plan))

    promised = [(p.steps, p.epoch, p.epoch_step) for p in plan.saves if not p.final]
    assert promised and written.positions("save", "save") == promised
    assert written.positions("samples", "training-sample") == [
        (step, *divmod(step, plan.steps_per_epoch)) for step in plan.sample_steps
    ]
    # each message names the file it wrote; the final model holds the whole run
    saves = written.saves()
    assert written.announced("Saving ") == [str(p) for p in saves] + [str(written.destination)]
    for path in saves:
        match = SAVE_NAME.match(path.name)
        assert match and match["prefix"] == "faery-" and match["ext"] == ".safetensors"
        assert model_updates(path) * plan.gradient_accumulation_steps == int(match["step"])
    final = plan.saves[-1]
    assert (
        final.final and model_updates(written.destination) == final.steps // plan.gradient_accumulation_steps
    )
    assert len({p.read_bytes() for p in [*saves, written.destination]}) == len(saves) + 1
    (backup,) = written.positions("backup", "backup")
    assert backup == (final.steps, final.epoch, final.epoch_step)


@pytest.mark.parametrize(
    ("unit", "every", "skip_first", "step_seconds", "expected"),
    [
        # "more than N units since the last one"; the clock starts at the first step
        ("SECOND", 30, 0, 25, [2, 4, 6, 8, 10]),
        ("SECOND", 50, 0, 25, [3, 6, 9]),  # exactly 50 s is not more than 50
        ("MINUTE", 1, 0, 25, [3, 6, 9]),
        ("HOUR", 1, 0, 1000, [4, 8]),
        # skip_first counts from the trainer's creation (4 s before the first step): it has passed at
        # step 5 (129 s), not at step 4 (exactly 104 s); the interval's clock starts then
        ("SECOND", 30, 104, 25, [7, 9, 11]),
        ("STEP", 4, 0, 1, [3, 7, 11]),
        ("STEP", 0, 0, 1, []),
        ("EPOCH", 1, 2, 1, [8]),
        ("ALWAYS", 0, 0, 1, list(range(12))),
        ("NEVER", 1, 0, 1, []),
    ],
)
def test_every_time_unit(
    unit: str,
    every: int,
    skip_first: int,
    step_seconds: float,
    expected: list[int],
    fake_onetrainer: Tree,
    train_config: Callable[..., Path],
) -> None:
    """Time units run on the stand-in's clock: the durations it pretends, whatever ``time_scale`` is."""
    # durations that add up exactly in binary floating point, so "exactly N seconds" is exact
    timing = {
        "import_seconds": 1,
        "setup_line_seconds": 0.5,
        "cache_item_seconds": 0.25,
        "step_seconds": step_seconds,
        "epoch_start_seconds": 0,
        "save_seconds": 0,
        "backup_seconds": 0,
    }
    root = fake_onetrainer(time_scale=0.002 / step_seconds, timing=timing)
    config = train_config(epochs=3, save_every=every, save_every_unit=unit, save_skip_first=skip_first)
    written = run(root, config)
    assert [g for g, _, _ in written.positions("save", "save")] == expected
    assert written.announced_steps("Saving ") == expected
    assert written.announced("Saving ")[-1] == str(written.destination)


@pytest.mark.parametrize(
    ("options", "announced", "kept"),
    [
        # every 2 steps (not at the start), then the one before the final save; the 2 newest stay
        ({"backup_after": 2, "backup_after_unit": "STEP", "rolling_backup": True}, [1, 3, 5, 7, 8], [7, 8]),
        # after each epoch but the last (that one is the backup before the final save)
        ({"backup_after": 1, "backup_after_unit": "EPOCH"}, [4, 8], [4, 8]),
        ({"backup_after": 1, "backup_after_unit": "EPOCH", "backup_before_save": False}, [4], [4]),
    ],
)
def test_backups(
    options: dict[str, Any],
    announced: list[int],
    kept: list[int],
    fake_onetrainer: Tree,
    train_config: Callable[..., Path],
) -> None:
    root = fake_onetrainer(time_scale=0.005)
    config = train_config(
        save_every_unit="NEVER", save_filename_prefix="faery-", rolling_backup_count=2, **options
    )
    written = run(root, config)
    assert written.announced_steps("Creating Backup ") == announced
    folders = sorted((written.workspace / "backup").iterdir())
    assert [int(SAVE_NAME.match(p.name)["step"]) for p in folders] == kept
    for folder in folders:
        assert str(folder) in written.announced("Creating Backup ")
        assert SAVE_NAME.match(folder.name)["prefix"] == ""  # backups carry no prefix
        progress = json.loads((folder / "meta.json").read_text())["train_progress"]
        assert progress["global_step"] == model_updates(folder / "lora" / "lora.safetensors")
    assert written.destination.is_file()


def test_samples_are_written_per_prompt(
    fake_onetrainer: Tree, train_config: Callable[..., Path], tmp_path: Path
) -> None:
    root = fake_onetrainer(time_scale=0.005)
    samples = [
        {"prompt": "skipped", "enabled": False},
        {
            "prompt": "a photo of a faery: forest/night! with fireflies",
            "width": 16,
            "height": 8,
            "diffusion_steps": 3,
        },
    ]
    config = train_config(
        samples=samples,
        sample_after=1,
        sample_after_unit="EPOCH",
        sample_image_format="PNG",
        save_filename_prefix="faery-",
    )
    written = run(root, config)
    (folder,) = (written.workspace / "samples").iterdir()
    # the index counts disabled prompts; the prompt keeps letters, digits, " ._-#", 32 characters
    assert folder.name == "1 - a photo of a faery forestnight w"
    files = sorted(folder.iterdir(), key=lambda p: p.name[-12:])
    assert [SAVE_NAME.match(p.name).group("prefix", "step", "epoch", "ext") for p in files] == [
        ("faery-", "0", "0", ".png"),
        ("faery-", "4", "1", ".png"),
    ]
    for path in files:
        with Image.open(path) as image:
            assert image.format == "PNG" and image.size == (16, 8)
    assert written.err.count("\rsampling: 100%|██████████| 3/3 ") >= 2


def test_samples_file_must_exist_when_samples_is_null(
    fake_onetrainer: Tree, train_config: Callable[..., Path]
) -> None:
    """OneTrainer inlines the samples file into the workspace config at start: a missing file fails."""
    root = fake_onetrainer(time_scale=0.005)
    written = run(root, train_config(samples=None), expect_code=1)
    assert written.err.splitlines()[-1] == (
        "FileNotFoundError: [Errno 2] No such file or directory: 'training_samples/samples.json'"
    )
    (root / "training_samples").mkdir()
    (root / "training_samples" / "samples.json").write_text(json.dumps([SAMPLE]))
    written = run(root, train_config(samples=None, sample_after=1, sample_after_unit="EPOCH"))
    assert [g for g, _, _ in written.positions("samples", "training-sample")] == [0, 4]
    # a backup keeps a copy of the samples file
    (backup,) = (written.workspace / "backup").iterdir()
    assert json.loads((backup / "onetrainer_config" / "samples.json").read_text()) == [SAMPLE]
    assert not (backup / "onetrainer_config" / "concepts.json").exists()  # inline concepts, no file


def test_directory_formats_and_a_destination_folder(
    fake_onetrainer: Tree, train_config: Callable[..., Path], tmp_path: Path
) -> None:
    root = fake_onetrainer(time_scale=0.005)
    # a diffusers folder has no extension; the destination is that folder
    config = train_config(output_model_format="DIFFUSERS", save_filename_prefix="faery-")
    written = run(root, config)
    saves = written.saves()
    assert [SAVE_NAME.match(p.name).group("prefix", "step", "ext") for p in saves] == [
        ("faery-", "2", None),
        ("faery-", "5", None),
    ]
    assert all((p / "model_index.json").is_file() for p in [*saves, written.destination])
    assert model_updates(saves[1] / "unet" / "diffusion_pytorch_model.safetensors") == 5
    # a single-file format into an existing folder: <prefix><time><ext> inside it
    out_dir = tmp_path / "loras"
    out_dir.mkdir()
    written = run(root, train_config(output_model_destination=str(out_dir), save_filename_prefix="faery-"))
    (final,) = out_dir.iterdir()
    assert written.announced("Saving ")[-1] == str(final)
    assert final.name.startswith("faery-") and final.suffix == ".safetensors" and model_updates(final) == 8
    configs = list((written.workspace / "config").iterdir())  # one per run (two if a second passed)
    assert configs and all(p.name.startswith("faery-") and p.suffix == ".json" for p in configs)


def test_ctrl_c_without_backup_before_save_saves_nothing(
    fake_onetrainer: Tree, train_config: Callable[..., Path]
) -> None:
    """train.py calls end() after Ctrl+C only when backup_before_save is on."""
    root = fake_onetrainer(time_scale=0.05)
    config = train_config(epochs=50, save_every_unit="NEVER", backup_before_save=False, tensorboard=False)
    process = subprocess.Popen(
        [
            str(root / "venv" / "bin" / "python"),
            str(root / "scripts" / "train.py"),
            "--config-path",
            str(config),
        ],
        cwd=root,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    assert process.stderr is not None
    seen = b""
    while b"\rstep:" not in seen:
        chunk = process.stderr.read1(4096)
        assert chunk, "the stand-in ended before training"
        seen += chunk
    time.sleep(0.05)
    process.send_signal(signal.SIGINT)
    process.stderr.read()
    assert process.wait(timeout=30) == 0
    data = json.loads(config.read_text())
    assert not Path(data["output_model_destination"]).exists()
    assert not (Path(data["workspace_dir"]) / "backup").exists()
