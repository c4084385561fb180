"""The evidence for the pick, end to end: build-config holds images out, the stand-in OneTrainer trains
and writes real TensorBoard files, compare shows the numbers it wrote on the page, the grid and the
chart, and --pick best takes the checkpoint they point to, or none when they are within the noise."""

from __future__ import annotations

import json
import statistics
from pathlib import Path
from typing import Any

from click.testing import CliRunner
from PIL import Image

from onelazy.build import build_config
from onelazy.cli import cli
from onelazy.comparison import compare, find_checkpoints, picked_label
from onelazy.comparison.chart import loss_figure
from onelazy.render import RenderSettings
from onelazy.training import launch
from tests.build.test_build import make_images
from tests.training.standin import make_onetrainer

#: A V whose bottom lies at half the run: of the saves at 60 and 80 steps (of 100), 60 is lower.
CLEAR = {"floor": 0.12, "depth": 0.05, "best_at": 0.5, "ripple": 0.0}
#: Flat with a wobble: every difference between checkpoints is within the noise.
FLAT = {"floor": 0.12, "depth": 0.0, "best_at": 0.5, "ripple": 0.01}


def train(world: dict[str, Any], onetrainer_facts: Path, shape: dict[str, float]) -> tuple[Path, Path]:
    base: Path = world["base"]
    onetrainer = make_onetrainer(base / "OneTrainer-evidence", onetrainer_facts, validation_loss=shape)
    make_images(base / "faery", 24, size=(64, 64), captions=True)
    built = build_config(
        base / "faery",
        preset="lazy-sd15",
        base_model=str(world["model"]),
        output=base / "run" / "out" / "faery.safetensors",
        run_dir=base / "run",
        total_steps=80,
        train_device="cpu",
    )
    assert built.plan.validation_images == 4 and built.plan.images == 20
    assert [(p.steps, p.validation_step) for p in built.plan.saves] == [(60, 60), (80, 80), (100, None)]
    built.write()
    assert launch(built.config_path, onetrainer=onetrainer).outcome == "finished"
    return base / "run", onetrainer


def written(onetrainer: Path) -> dict[str, dict[int, float]]:
    found: dict[str, dict[int, float]] = {}
    for line in (onetrainer / "scripts" / "written-scalars.jsonl").read_text().splitlines():
        entry = json.loads(line)
        found.setdefault(entry["tag"], {})[entry["step"]] = entry["value"]
    return found


def render(
    run: Path,
    world: dict[str, Any],
    prompts: tuple[str, ...] = ("a faery in a forest",),
    weights: tuple[float, ...] = (1.0,),
    **options: Any,
) -> Any:
    return compare(
        run,
        kind="comfyui",
        url=world["server"].url,
        render=RenderSettings(model="tiny_sd15.safetensors", width=512, height=512, seed=1234),
        lora_dir=world["loras"],
        prompts=prompts,
        weights=weights,
        **options,
    )


def f32(value: float) -> float:
    import struct

    return float(struct.unpack("<f", struct.pack("<f", value))[0])


def test_page_grid_chart_and_pick_best_show_what_onetrainer_logged(
    world: dict[str, Any], onetrainer_facts: Path
) -> None:
    run, onetrainer = train(world, onetrainer_facts, CLEAR)
    truth = written(onetrainer)
    validation = {step: f32(v) for step, v in truth["loss/validation_step/validation"].items()}
    train_loss = {step: f32(v) for step, v in truth["loss/train_step"].items()}
    assert sorted(validation) == [0, 20, 40, 60, 80]

    result = render(run, world)
    evidence = result.evidence
    assert evidence is not None
    by_step = {item.step: item for item in evidence.checkpoints}
    assert sorted(by_step) == [60, 80, 100]
    assert by_step[60].validation_loss == validation[60] and by_step[80].validation_loss == validation[80]
    assert by_step[100].validation_loss is None  # the final model comes after the last validation
    # the train loss around a checkpoint: the steps within 5 % of it (here 3) on either side
    assert by_step[60].train_loss_steps == (57, 63)
    assert by_step[60].train_loss == statistics.fmean(train_loss[s] for s in range(57, 64))
    assert validation[60] < validation[80]
    assert evidence.suggestion.step == 60

    # the page: each checkpoint's numbers in its row, the suggested row marked, the rule, the chart
    page = result.page.read_text(encoding="utf-8")
    for step in (60, 80):
        row = next(line for line in page.splitlines() if f"<th class=row>step {step}," in line)
        assert f"validation loss {validation[step]:.4f}" in row
        assert f"train loss {by_step[step].train_loss:.4f}" in row
        assert ('class="suggested"' in row) == (step == 60)
    final_row = next(line for line in page.splitlines() if "<th class=row>final (step 100" in line)
    assert "validation loss: none" in final_row
    assert "Rule: the checkpoint with the lowest validation loss" in page
    assert "Suggested: step 60" in page and 'src="loss.png"' in page
    assert "../workspace/samples/" in page  # OneTrainer's own samples, beside the renders

    # the grid: the same lines per row (kept in cells.json), and OneTrainer's samples of steps 60 and
    # 80 pasted in (the stand-in paints each sample one colour made from the updates it holds)
    cells = json.loads((run / "compare" / "cells.json").read_text())
    label_60 = next(label for label in cells["rows"] if label.startswith("step 60,"))
    assert cells["suggested"] == label_60
    assert cells["evidence"][label_60] == [
        f"validation loss {validation[60]:.4f}",
        f"train loss {by_step[60].train_loss:.4f}",
    ]
    with Image.open(result.grid) as opened:
        colours = {colour for _count, colour in opened.convert("RGB").getcolors(1 << 20)}

    def sample_colour(step: int) -> tuple[int, ...]:
        sample = sorted((run / "workspace" / "samples").glob(f"0 - */*-training-sample-{step}-*"))[0]
        with Image.open(sample) as image:  # one colour, made from the updates the weights hold
            colour: tuple[int, ...] = image.convert("RGB").getpixel((image.width // 2, image.height // 2))
        return colour

    # one per sample prompt, all of the checkpoint's step
    assert {s.path.name.split("-training-sample-")[1][:3] for s in by_step[60].samples} == {"60-"}
    assert len(by_step[60].samples) == 3
    assert sample_colour(60) in colours and sample_colour(80) in colours
    assert sample_colour(20) not in colours  # sampled, but no checkpoint there

    # the chart: the series it draws are the ones written, the saves marked where they are
    assert result.chart is not None and result.chart.name == "loss.png"
    with Image.open(result.chart) as chart:
        assert chart.format == "PNG" and chart.width > 400
    axes = loss_figure(evidence).axes[0]
    lines = {line.get_label(): line for line in axes.get_lines()}
    drawn = lines["validation loss (held-out images)"]
    assert dict(zip(drawn.get_xdata(), drawn.get_ydata(), strict=True)) == validation
    drawn = lines["train loss (each step)"]
    assert dict(zip(drawn.get_xdata(), drawn.get_ydata(), strict=True)) == train_loss
    marks = [line.get_xdata()[0] for line in axes.get_lines() if line.get_label().startswith("_")]
    assert sorted(marks) == [60, 80, 100]

    # --pick best: the suggested checkpoint becomes the LoRA, and status can say so
    output = run / "out" / "faery.safetensors"
    outcome = CliRunner().invoke(cli, ["compare", str(run), "--pick", "best"])
    assert outcome.exit_code == 0, outcome.output
    assert "Suggested: step 60" in outcome.output and "noise" in outcome.output
    save_60 = next(c for c in find_checkpoints(run) if c.step == 60 and c.kind == "save")
    assert output.read_bytes() == save_60.path.read_bytes()
    assert picked_label(run) == save_60.label


def test_pick_best_leaves_the_choice_when_the_losses_are_within_the_noise(
    world: dict[str, Any], onetrainer_facts: Path
) -> None:
    run, _onetrainer = train(world, onetrainer_facts, FLAT)
    output = run / "out" / "faery.safetensors"
    before = output.read_bytes()
    outcome = CliRunner().invoke(cli, ["compare", str(run), "--pick", "best"])
    assert outcome.exit_code == 1
    assert "does not separate them" in outcome.output and "noise of 0.0200" in outcome.output
    assert "Nothing picked" in outcome.output
    assert output.read_bytes() == before and picked_label(run) is None
    result = render(run, world)
    assert result.evidence is not None and result.evidence.suggestion.step is None
    assert 'class="suggested"' not in result.page.read_text(encoding="utf-8")
    assert "does not separate them" in result.page.read_text(encoding="utf-8")


def test_run_holds_images_out_by_default_and_refuses_too_few(world: dict[str, Any]) -> None:
    from onelazy.errors import DatasetError
    from onelazy.pipeline import run_project
    from onelazy.project import init_project
    from tests.project.helpers import fill_in

    project = world["base"] / "faery"
    made = init_project(
        project, name="faery", backend="comfyui", url=world["server"].url, onetrainer=str(world["onetrainer"])
    )
    fill_in(made.path, world)
    text = made.path.read_text(encoding="utf-8").replace("validation: none ", "validation: auto ")
    made.path.write_text(text, encoding="utf-8")
    # two sets of six: too few to spare a validation set, said before anything is trained
    try:
        run_project(made.path)
    except DatasetError as exc:
        assert "12 kept images are too few" in str(exc) and "validation: none" in str(exc)
    else:
        raise AssertionError("a dataset of 12 images was not refused")
    assert not (project / "run" / "workspace").exists()
    # twelve per set: 24 images, 4 held out, validated at every save, shown by compare
    made.path.write_text(text.replace("count: 6", "count: 12"), encoding="utf-8")
    lines: list[str] = []
    run_project(made.path, echo=lines.append)
    assert any("Validation: 4 images held out" in line for line in lines), lines
    def images(folder: Path) -> set[str]:
        return {p.relative_to(folder).as_posix() for p in folder.glob("*/*.png")}

    kept = images(project / "dataset")  # what cull kept of the 24
    held, trained = images(project / "run" / "validation"), images(project / "run" / "train")
    assert len(held) == 4 and not held & trained and held | trained == kept
    config = json.loads((project / "run" / "config.json").read_text(encoding="utf-8"))
    assert config["validation"] is True and config["concepts"][-1]["type"] == "VALIDATION"
    page = (project / "run" / "compare" / "index.html").read_text(encoding="utf-8")
    assert "validation loss 0." in page and "Rule: the checkpoint" in page
    assert (project / "run" / "compare" / "loss.png").is_file()
