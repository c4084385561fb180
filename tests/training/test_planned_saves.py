"""The free-space check counts the saves OneTrainer will really make."""

from __future__ import annotations

import dataclasses

import pytest

from onelazy.plan import make_plan
from onelazy.training.config_facts import ConfigFacts
from onelazy.training.preflight import planned_saves


def _facts(**values: object) -> ConfigFacts:
    base = ConfigFacts(
        config_version=11,
        training_method="LORA",
        model_type="STABLE_DIFFUSION_15",
        base_model_name="x",
        workspace_dir="w",
        cache_dir="c",
        output_model_destination="o.safetensors",
        concepts=None,
        concept_file_name="c.json",
        epochs=10,
        batch_size=1,
        gradient_accumulation_steps=1,
        save_every=0,
        save_every_unit="NEVER",
        save_skip_first=0,
        backup_before_save=True,
        lora_rank=16,
        tensorboard=False,
    )
    return dataclasses.replace(base, **values)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("values", "samples_per_epoch", "expected"),
    [
        # skip_first counts units, not saves: every 5 steps after the first 10 of 28 -> 3 saves
        ({"epochs": 28, "save_every": 5, "save_every_unit": "STEP", "save_skip_first": 10}, 1, 3),
        # EPOCH: the end of the last epoch is the final model, never a save
        ({"epochs": 3, "save_every": 1, "save_every_unit": "EPOCH"}, 4, 2),
        ({"epochs": 10, "save_every": 2, "save_every_unit": "EPOCH", "save_skip_first": 6}, 4, 2),
        # time units depend on the machine: not counted
        ({"epochs": 10, "save_every": 1, "save_every_unit": "MINUTE"}, 4, 0),
        ({"epochs": 10, "save_every": 0, "save_every_unit": "EPOCH"}, 4, 0),
    ],
)
def test_counts_follow_onetrainer_rules(
    values: dict[str, object], samples_per_epoch: int, expected: int
) -> None:
    assert planned_saves(_facts(**values), samples_per_epoch) == expected


def test_a_built_plan_counts_its_two_intermediate_saves() -> None:
    from onelazy.plan import ConceptCount

    plan = make_plan([ConceptCount("faery", 180)], batch_size=1, steps_per_image=100)
    facts = _facts(
        epochs=plan.epochs,
        save_every=plan.save_every,
        save_every_unit=plan.save_every_unit,
        save_skip_first=plan.save_skip_first,
    )
    assert planned_saves(facts, 180) == sum(1 for s in plan.saves if not s.final) == 2
