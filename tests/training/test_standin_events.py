"""The stand-in's TensorBoard event files, read back with onelazy's reader, and the plan's promise of a
validation at every save checked against them (as its saves are checked against the stand-in's files)."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from onelazy.evidence import Scalar, read_training_log
from onelazy.plan import ConceptCount, make_plan
from tests.training.standin import tiny_png
from tests.training.test_standin_schedule import PLANS, plan_config, run

Tree = Callable[..., Path]


def written(root: Path) -> dict[str, dict[int, float]]:
    """What the stand-in says it wrote: tag → step → value (the last one of a step)."""
    found: dict[str, dict[int, float]] = {}
    record = root / "scripts" / "written-scalars.jsonl"
    for line in record.read_text(encoding="utf-8").splitlines():
        entry = json.loads(line)
        found.setdefault(entry["tag"], {})[entry["step"]] = entry["value"]
    return found


def as_dict(series: tuple[Scalar, ...]) -> dict[int, float]:
    return {s.step: s.value for s in series}


def add_validation_concepts(config: Path, base: Path, names: list[str], images: int = 4) -> None:
    """VALIDATION concepts as build-config writes them: a folder of held-out images each."""
    data = json.loads(config.read_text())
    for index, name in enumerate(names):
        folder = base / f"held-out-{index}" / "set"
        folder.mkdir(parents=True)
        for number in range(images):
            (folder / f"{number:04d}.png").write_bytes(tiny_png())
        data["concepts"].append(
            {**data["concepts"][0], "name": name, "path": str(folder.parent), "type": "VALIDATION",
             "include_subdirectories": True}
        )  # fmt: skip
    config.write_text(json.dumps(data))


PLANS_WITH_A_LAST_STEP_SAVE = {"steps-last": {"concepts": [ConceptCount("faery", 20)], "total_steps": 40}}


@pytest.mark.parametrize("name", ["epochs", "steps", "steps-accumulated", "steps-batch-2", "steps-last"])
def test_a_validation_is_logged_at_every_save_the_plan_promises(
    name: str, fake_onetrainer: Tree, tmp_path: Path, onetrainer_facts: Path
) -> None:
    plan = make_plan(**{**PLANS, **PLANS_WITH_A_LAST_STEP_SAVE}[name], validation_images=4)
    root = fake_onetrainer(time_scale=0.005)
    config = plan_config(tmp_path, onetrainer_facts, plan)
    add_validation_concepts(config, tmp_path, ["validation"])
    out = run(root, config)
    log = read_training_log(out.workspace)

    validated = as_dict(log.validation_losses["validation"])
    assert list(validated) == list(plan.validation_steps)
    for point in plan.saves:
        if point.final:
            assert point.validation_step is None
        elif point.validation_step is None:  # only a save in the last step, like the final model
            assert point.steps + plan.gradient_accumulation_steps >= plan.total_steps
        else:
            assert point.validation_step in validated, (point, list(validated))
            assert abs(point.validation_step - point.steps) <= plan.gradient_accumulation_steps
    # what was read is what was written (float32 on the way through the file)
    truth = written(root)
    assert validated == pytest.approx(truth["loss/validation_step/validation"], rel=1e-6)
    assert as_dict(log.train_loss) == pytest.approx(truth["loss/train_step"], rel=1e-6)
    assert as_dict(log.smooth_loss) == pytest.approx(truth["smooth_loss/train_step"], rel=1e-6)
    assert as_dict(log.learning_rates["unet"]) == pytest.approx(truth["lr/unet"], rel=1e-6)
    # one train loss per optimizer step, logged at the step that completed it
    accumulation = plan.gradient_accumulation_steps
    assert [s.step for s in log.train_loss] == [
        g for g in range(plan.total_steps) if (g + 1) % accumulation == 0
    ]
    assert log.validation == log.validation_losses["validation"]
    assert len(log.folders) == 1 and log.folders[0].parent == out.workspace / "tensorboard"


def test_two_validation_concepts_get_onetrainers_labels_and_a_total_average(
    fake_onetrainer: Tree, tmp_path: Path, onetrainer_facts: Path
) -> None:
    plan = make_plan(**PLANS["epochs"], validation_images=8)
    root = fake_onetrainer(time_scale=0.005)
    config = plan_config(tmp_path, onetrainer_facts, plan)
    add_validation_concepts(config, tmp_path, ["held", "held", ""])
    log = read_training_log(run(root, config).workspace)
    # a name used twice gets (1); a concept without a name is labelled by its folder's name
    assert set(written(root)) >= {"loss/validation_step/held(1)", "loss/validation_step/held-out-2"}
    # torch's writer stores the tag as given, "(1)" and all (tensorboardX would write "held_1_")
    labels = ("held", "held(1)", "held-out-2")
    assert set(log.validation_losses) == {*labels, "total_average"}
    assert log.validation == log.validation_losses["total_average"]
    first = log.validation[0].step
    parts = [as_dict(log.validation_losses[label])[first] for label in labels]
    assert log.validation[0].value == pytest.approx(sum(parts) / 3, rel=1e-6)


def test_a_run_continued_after_ctrl_c_has_two_folders_joined_in_step_order(
    fake_onetrainer: Tree, train_config: Callable[..., Path], tmp_path: Path
) -> None:
    from onelazy.training import Progress, launch, run_events

    root = fake_onetrainer(time_scale=0.05)
    options: dict[str, Any] = {"epochs": 6, "save_every_unit": "NEVER"}
    config = train_config(**options, validation=True, validate_after=1, validate_after_unit="EPOCH")
    add_validation_concepts(config, tmp_path, ["validation"])
    with run_events(config, onetrainer=root, handle_signals=False) as first:
        for event in first:
            if isinstance(event, Progress) and event.global_step >= 10:
                first.interrupt()
                break
        for _event in first:
            pass
    workspace = Path(json.loads(config.read_text())["workspace_dir"])
    before = read_training_log(workspace)
    stopped_at = before.train_loss[-1].step
    data = json.loads(config.read_text())
    data["continue_last_backup"] = True
    config.write_text(json.dumps(data))
    assert launch(config, onetrainer=root).outcome == "finished"

    log = read_training_log(workspace)
    files = sorted((workspace / "tensorboard").glob("*/events.out.tfevents.*"))
    assert len(files) == 2  # one per start (a folder each, unless both started within one second)
    steps = [s.step for s in log.train_loss]
    assert steps == sorted(set(steps)) == list(range(24))
    assert stopped_at < 23 and [s.step for s in log.validation] == [0, 4, 8, 12, 16, 20]
    # the steps the second start trained again keep the second start's values
    truth = written(root)
    assert as_dict(log.train_loss) == pytest.approx(truth["loss/train_step"], rel=1e-6)


def test_the_reader_takes_what_torchs_own_summary_writer_wrote(tmp_path: Path) -> None:
    """OneTrainer logs with torch.utils.tensorboard.SummaryWriter: its files, two starts of a run
    and a colliding concept label among them, read as the stand-in's are."""
    from tests.conftest import require_packages

    require_packages("torch")
    from torch.utils.tensorboard import SummaryWriter

    starts = [(0, range(0, 6)), (1, range(4, 10))]  # the second continues from a backup at step 4
    for n, steps in starts:
        writer = SummaryWriter(str(tmp_path / "tensorboard" / f"faery-2026-12-03_10-0{n}-00"))
        for step in steps:
            writer.add_scalar("loss/train_step", 1.0 - step / 10 - n / 100, step)
            writer.add_scalar("smooth_loss/train_step", 0.9 - step / 20, step)
            writer.add_scalar("lr/unet", 1e-4, step)
        for label, value in (("held", 0.25), ("held(1)", 0.35)):
            writer.add_scalar(f"loss/validation_step/{label}", value + n, steps[-1])
        writer.add_scalar("loss/validation_step/total_average", 0.3 + n, steps[-1])
        writer.close()
    log = read_training_log(tmp_path)
    assert len(log.folders) == 2
    # the later start's values win where both logged a step
    assert as_dict(log.train_loss) == {s: pytest.approx(1.0 - s / 10 - (s >= 4) / 100) for s in range(10)}
    assert set(log.validation_losses) == {"held", "held(1)", "total_average"}
    assert as_dict(log.validation) == {5: pytest.approx(0.3), 9: pytest.approx(1.3)}
    assert as_dict(log.learning_rates["unet"]) == {s: pytest.approx(1e-4) for s in range(10)}
