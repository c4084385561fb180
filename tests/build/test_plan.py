"""The training plan: arithmetic, and save points that are the ones OneTrainer will really make."""

from __future__ import annotations

import itertools
import json
import re
from pathlib import Path

import pytest

from onelazy.errors import ConfigError
from onelazy.onetrainer.run_config import plan_values
from onelazy.plan import (
    ConceptCount,
    SavePoint,
    default_steps_per_image,
    make_plan,
    onetrainer_sample_steps,
    onetrainer_save_points,
)

TIMES = "\N{MULTIPLICATION SIGN}"


def one(images: int, balancing: float = 1.0, strategy: str = "REPEATS") -> list[ConceptCount]:
    return [ConceptCount("c", images, balancing, strategy)]


def independent_replay(
    every: int, unit: str, skip: int, steps_per_epoch: int, epochs: int, accumulation: int = 1
) -> list[tuple[int, int, int]]:
    """OneTrainer's loop written out as nested epoch/step loops (§8 of the facts), for cross-checking.

    Returns ``(trained steps, epoch, epoch_step)`` of each intermediate save.
    """
    saves = []
    global_step = 0
    pending = False
    has_gradient = False
    for epoch in range(epochs):
        for epoch_step in range(steps_per_epoch):
            if unit == "EPOCH":
                elapsed = epoch + 1 > skip
                repeat = every != 0 and epoch % every == 0 and epoch_step == 0 and epoch > 0
            elif unit == "STEP":
                elapsed = global_step + 1 > skip
                repeat = every != 0 and (global_step + 1) % every == 0
            else:
                elapsed = repeat = False
            if elapsed and repeat:
                pending = True
            if not has_gradient and pending:
                saves.append((global_step, epoch, epoch_step))
                pending = False
            # train the step
            has_gradient = True
            if (global_step + 1) % accumulation == 0:
                has_gradient = False
            global_step += 1
    return saves


# --------------------------------------------------------------------------- the arithmetic


def test_the_issue_example_arithmetic() -> None:
    plan = make_plan(one(180), batch_size=1, steps_per_image=100)
    assert plan.arithmetic == f"180 images {TIMES} 100 steps/image ÷ batch 1 = 18,000 steps = 100 epochs"
    assert (plan.planned_epochs, plan.planned_steps) == (100, 18_000)
    assert plan.describe()[0] == plan.arithmetic


def test_batch_divides_steps_not_epochs() -> None:
    plan = make_plan(one(180), batch_size=4, steps_per_image=100)
    assert plan.arithmetic == f"180 images {TIMES} 100 steps/image ÷ batch 4 = 4,500 steps = 100 epochs"
    assert plan.steps_per_epoch == 45


def test_an_incomplete_last_batch_is_not_a_step() -> None:
    """7 images at batch 4 train one step per epoch: 40 views per image need 70 epochs, not 40."""
    plan = make_plan(one(7), batch_size=4, steps_per_image=40, intermediate_saves=False)
    assert plan.steps_per_epoch == 1
    assert plan.arithmetic == (
        f"7 images {TIMES} 40 steps/image ÷ batch 4 = 70 steps wanted; "
        "7 images ÷ batch 4 = 1 step per epoch (3 images left over each epoch); 70 steps = 70 epochs"
    )
    assert plan.epochs == plan.total_steps == 70


def test_total_steps_with_left_over_images() -> None:
    plan = make_plan(one(5), batch_size=4, total_steps=3, intermediate_saves=False)
    assert plan.arithmetic == (
        "5 images ÷ batch 4 = 1 step per epoch (1 image left over each epoch); 3 steps wanted = 3 epochs"
    )
    assert plan.total_steps == 3


@pytest.mark.parametrize(("images", "batch"), [(7, 4), (10, 3), (13, 8), (9, 2), (180, 7)])
def test_the_planned_steps_deliver_the_views_per_image(images: int, batch: int) -> None:
    """Each image is seen (on average) as often as asked, to within half an epoch, whatever the batch."""
    plan = make_plan(one(images), batch_size=batch, steps_per_image=40, intermediate_saves=False)
    views = plan.total_steps * batch / images
    assert abs(views - 40) <= plan.steps_per_epoch * batch / images / 2 + 1e-9
    assert " of 1 steps" not in plan.arithmetic


def test_total_steps_target_rounds_to_whole_epochs_and_says_so() -> None:
    plan = make_plan(one(180), batch_size=1, total_steps=2000)
    assert plan.planned_epochs == 11
    assert plan.planned_steps == 1980
    assert "≈ 11.1 epochs → 11 epochs of 180 steps = 1,980 steps" in plan.arithmetic


def test_repeats_count_towards_an_epoch() -> None:
    # Each image shown twice per epoch: 100 views per image take 50 epochs (then 52, see below).
    plan = make_plan(one(180, balancing=2.0), steps_per_image=100)
    assert plan.samples_per_epoch == 360
    assert "(360 per epoch with balancing)" in plan.arithmetic
    assert plan.arithmetic.endswith("= 50 epochs")
    assert plan.planned_epochs == 52
    assert any("rounded from 50 to 52" in note for note in plan.notes)


def test_samples_strategy_counts_exact_samples() -> None:
    concepts = [ConceptCount("a", 100), ConceptCount("b", 7, balancing=30, balancing_strategy="SAMPLES")]
    plan = make_plan(concepts, steps_per_image=40)
    assert plan.samples_per_epoch == 130
    # 107 images x 40 views / 130 per epoch = 32.9 epochs
    assert plan.planned_epochs == 32


def test_fractional_repeats_floor_like_onetrainer() -> None:
    assert ConceptCount("c", 15, 0.5).samples_per_epoch == 7


def test_defaults_per_family() -> None:
    assert default_steps_per_image(sdxl_family=True) == 100
    assert default_steps_per_image(sdxl_family=False) == 40


@pytest.mark.parametrize(
    ("kwargs", "key"),
    [
        ({"steps_per_image": 10, "total_steps": 10}, "target"),
        ({}, "target"),
        ({"steps_per_image": 0}, "steps_per_image"),
        ({"total_steps": -5}, "total_steps"),
        ({"steps_per_image": 10, "batch_size": 0}, "batch_size"),
        ({"steps_per_image": 10, "batch_size": 11}, "batch_size"),
    ],
)
def test_impossible_plans_are_refused_naming_the_key(kwargs: dict[str, int], key: str) -> None:
    with pytest.raises(ConfigError) as info:
        make_plan(one(10), **kwargs)
    assert info.value.key == key


def test_a_concept_balanced_to_nothing_is_refused() -> None:
    with pytest.raises(ConfigError, match="contributes no images"):
        make_plan([ConceptCount("a", 10), ConceptCount("tiny", 1, 0.5)], steps_per_image=10)


# --------------------------------------------------------------------------- saves


def test_default_saves_are_at_75_100_125_percent_on_epoch_ends() -> None:
    plan = make_plan(one(180), steps_per_image=100)
    assert (plan.save_every, plan.save_every_unit, plan.save_skip_first) == (25, "EPOCH", 75)
    assert plan.epochs == 125
    assert plan.saves == (
        SavePoint(13_500, 75, 0, 0.75),
        SavePoint(18_000, 100, 0, 1.0),
        SavePoint(22_500, 125, 0, 1.25, final=True),
    )
    assert plan_values(plan)["save_every_unit"] == "EPOCH"


def test_save_points_replay_the_real_finished_run(onetrainer_facts: Path) -> None:
    """The recorded OneTrainer run: its config's save settings, and the save files it printed."""
    logs = onetrainer_facts / "logs"
    config = json.loads((logs / "finished.config.json").read_text())
    stdout = (logs / "finished.stdout").read_text()
    printed = re.findall(r"-save-(\d+-\d+-\d+)\.safetensors", stdout)
    images = 4  # the README of the logs: four 64x64 images, batch 1
    points = onetrainer_save_points(
        config["save_every"],
        config["save_every_unit"],
        config.get("save_skip_first") or 0,
        steps_per_epoch=images // config["batch_size"],
        epochs=config["epochs"],
    )
    assert [p.name_suffix for p in points if not p.final] == printed == ["2-0-2", "5-1-1"]


@pytest.mark.parametrize(
    ("images", "batch", "spi"),
    list(itertools.product([1, 3, 7, 40, 180, 999], [1, 2, 4, 8], [1, 3, 10, 40, 100])),
)
def test_promised_saves_equal_an_independent_replay(images: int, batch: int, spi: int) -> None:
    if batch > images:
        return
    plan = make_plan(one(images), batch_size=batch, steps_per_image=spi)
    replayed = independent_replay(
        plan.save_every, plan.save_every_unit, plan.save_skip_first, plan.steps_per_epoch, plan.epochs
    )
    promised = [(p.steps, p.epoch, p.epoch_step) for p in plan.saves if not p.final]
    assert promised == replayed
    final = plan.saves[-1]
    assert final.final and final.steps == plan.total_steps == plan.epochs * plan.steps_per_epoch
    assert plan.total_steps > plan.planned_steps
    if plan.planned_steps < 80:
        return  # a quarter of the plan is under 20 steps: whole steps and epochs cannot hit 75/100/125 %
    # No intermediate save is (almost) a copy of the final model.
    assert all(p.steps < plan.total_steps - 1 for p in plan.saves[:-1])
    if plan.save_every_unit == "EPOCH":
        assert [round(p.fraction, 6) for p in plan.saves] == [0.75, 1.0, 1.25]
    else:
        fractions = [p.fraction for p in plan.saves]
        assert abs(fractions[0] - 0.75) < 0.1 and any(abs(f - 1.0) < 0.1 for f in fractions)


def test_step_saves_hold_one_step_less_than_the_round_number() -> None:
    points = onetrainer_save_points(10, "STEP", 0, steps_per_epoch=5, epochs=4)
    assert [p.steps for p in points] == [9, 19, 20]
    assert points[-1].final


def test_epoch_skip_first_lets_the_save_at_that_epoch_through() -> None:
    points = onetrainer_save_points(2, "EPOCH", 4, steps_per_epoch=3, epochs=10)
    assert [p.epoch for p in points if not p.final] == [4, 6, 8]


def test_save_every_zero_or_never_means_only_the_final_model() -> None:
    for every, unit in [(0, "EPOCH"), (0, "STEP"), (5, "NEVER")]:
        points = onetrainer_save_points(every, unit, 0, steps_per_epoch=3, epochs=10)
        assert [p.final for p in points] == [True]


def test_gradient_accumulation_delays_a_save_to_the_next_cycle() -> None:
    points = onetrainer_save_points(1, "EPOCH", 0, steps_per_epoch=5, epochs=3, gradient_accumulation_steps=2)
    assert [(p.steps, p.epoch, p.epoch_step) for p in points if not p.final] == [(6, 1, 1), (10, 2, 0)]
    assert [(s, e, k) for s, e, k in independent_replay(1, "EPOCH", 0, 5, 3, accumulation=2)] == [
        (6, 1, 1),
        (10, 2, 0),
    ]


def test_without_intermediate_saves_training_stops_at_the_target() -> None:
    plan = make_plan(one(180), steps_per_image=40, intermediate_saves=False)
    assert plan.save_every_unit == "NEVER"
    assert plan.epochs == plan.planned_epochs == 40
    assert plan.saves == (SavePoint(7200, 40, 0, 1.0, final=True),)


def test_describe_names_every_save_step() -> None:
    text = "\n".join(make_plan(one(180), steps_per_image=100).describe())
    assert "13,500 steps" in text and "18,000 steps" in text and "22,500 steps" in text
    assert "125 %" in text


# --------------------------------------------------------------------------- samples


def test_samples_line_up_with_the_saves_and_start_before_training() -> None:
    plan = make_plan(one(180), steps_per_image=100)
    assert (plan.sample_after, plan.sample_after_unit) == (25, "EPOCH")
    assert plan.sample_steps == (0, 4500, 9000, 13_500, 18_000)
    saved = {p.steps for p in plan.saves}
    assert saved & set(plan.sample_steps) == {13_500, 18_000}


def test_step_sampling_replays_onetrainer() -> None:
    assert onetrainer_sample_steps(4, "STEP", 0, steps_per_epoch=3, epochs=3) == (0, 4, 8)
    assert onetrainer_sample_steps(2, "EPOCH", 3, steps_per_epoch=2, epochs=6) == (8,)
    assert onetrainer_sample_steps(10, "MINUTE", 0, steps_per_epoch=2, epochs=2) == ()


def test_short_plans_count_saves_in_steps() -> None:
    plan = make_plan(one(180), total_steps=2000)
    assert (plan.save_every, plan.save_every_unit, plan.save_skip_first) == (495, "STEP", 990)
    assert plan.epochs == 14
    assert [p.steps for p in plan.saves] == [1484, 1979, 2474, 2520]
    assert plan.saves[-1].final


def test_sampling_waits_for_an_accumulation_cycle_too() -> None:
    assert onetrainer_sample_steps(
        1, "EPOCH", 0, steps_per_epoch=3, epochs=3, gradient_accumulation_steps=2
    ) == (0, 4, 6)
