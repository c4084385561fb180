"""Every case in the migrations fixture folder: single steps, whole upgrades, and the crash cases.

The cases are found by walking the folder (``<case>.in.json``), so a new fixture file is tested
without code changes; ``index.json`` says which cases OneTrainer crashed on and what it printed.
"""

from __future__ import annotations

import copy
import re
from pathlib import Path
from typing import Any

import pytest

from onelazy.errors import MigrationError
from onelazy.onetrainer import (
    CONCEPT_CONFIG_MIGRATIONS,
    TRAIN_CONFIG_MIGRATIONS,
    default_concept_config,
    default_train_config,
    load_concepts_lenient,
    load_train_config_lenient,
    migrate_concept_config,
    migrate_train_config,
    to_onetrainer_dict,
)
from tests.onetrainer.facts import FACTS, fact_files, flatten, load

CASES = [path.name.removesuffix(".in.json") for path in fact_files("migrations/*.in.json")]
INDEX = load(FACTS / "migrations" / "index.json")["cases"] if CASES else {}


def _file(case: str, suffix: str) -> Path:
    return FACTS / "migrations" / f"{case}.{suffix}.json"


def test_the_migration_folder_has_cases(onetrainer_facts: Path) -> None:
    assert len(list((onetrainer_facts / "migrations").glob("*.in.json"))) >= 20


def _normalise(expected: dict[str, Any], ours: dict[str, Any], given: dict[str, Any]) -> None:
    """Align the values OneTrainer makes random or machine-dependent, and the port's JSON type."""
    if "train_device" not in given:
        expected["train_device"] = ours["train_device"]
    if isinstance(given.get("embedding"), dict) and "uuid" in given["embedding"]:
        pass
    else:
        expected["embedding"]["uuid"] = ours["embedding"]["uuid"]
    for side in (expected, ours):
        side["secrets"]["cloud"]["port"] = str(side["secrets"]["cloud"]["port"])


def _null_bools_become_false(expected: Any, ours: Any) -> Any:
    """OneTrainer stores ``null`` in a bool key as-is (REFERENCE §4); the typed model refuses it,
    reports it, and keeps the default. Every such key in the fixtures defaults to false, which is
    also what OneTrainer's ``if flag:`` makes of null."""
    if isinstance(expected, dict) and isinstance(ours, dict):
        return {k: _null_bools_become_false(v, ours.get(k)) for k, v in expected.items()}
    return False if expected is None and ours is False else expected


def _train_default_diff(ours: dict[str, Any]) -> dict[str, Any]:
    defaults = flatten(to_onetrainer_dict(default_train_config(train_device=ours["train_device"])))
    flat = flatten(ours)
    return {k: v for k, v in flat.items() if defaults.get(k) != v and k != "embedding.uuid"}


@pytest.mark.parametrize("case", CASES)
def test_migration_case(case: str) -> None:
    given = load(_file(case, "in"))
    facts = INDEX.get(case, {})
    is_concept = case.startswith("concept-")

    if "error" in facts:
        with pytest.raises(MigrationError) as raised:
            migrate_train_config(given, source=f"{case}.json")
        error = raised.value
        missing = re.search(r"KeyError: '(\w+)'", facts["error"])
        assert missing is not None
        assert error.key is not None and error.key.split(".")[-1] == missing.group(1)
        assert error.file == f"{case}.json"
        assert "\n" not in str(error)
        return

    step_file = _file(case, "step")
    if step_file.exists():
        step = facts.get("step", int(case.split("-")[1]))
        steps = CONCEPT_CONFIG_MIGRATIONS if is_concept else TRAIN_CONFIG_MIGRATIONS
        assert steps[step](copy.deepcopy(given), None) == load(step_file)

    if is_concept:
        migrated = migrate_concept_config(given)
        (concept,), problems = load_concepts_lenient([migrated])
        ours = to_onetrainer_dict(concept)
        defaults = to_onetrainer_dict(default_concept_config(seed=ours["seed"]))
        diff = {k: v for k, v in flatten(ours).items() if flatten(defaults).get(k) != v}
    else:
        config, problems = load_train_config_lenient(given)
        ours = to_onetrainer_dict(config)
        diff = _train_default_diff(ours)

    out_file = _file(case, "out")
    if out_file.exists():
        expected = load(out_file)
        if is_concept:
            if "seed" not in given:
                expected["seed"] = ours["seed"]
        else:
            _normalise(expected, ours, given)
            expected = _null_bools_become_false(expected, ours)
        assert ours == expected

    diff_file = _file(case, "out-diff")
    if diff_file.exists() and not out_file.exists():  # the full output, when there is one, says more
        expected_diff = load(diff_file)
        if not is_concept:
            for key in ("secrets.cloud.port",):
                if key in expected_diff and str(expected_diff[key]) == str(flatten(ours).get(key)):
                    expected_diff.pop(key)
                    diff.pop(key, None)
        assert diff == expected_diff

    # What OneTrainer printed ("Could not set <key> as <value>") is what lenient reading reports
    # as a replaced value (unknown keys, which OneTrainer drops silently, are reported separately).
    printed = {m.split()[3] for m in facts.get("messages", []) if m.startswith("Could not set ")}
    value_problems = [
        p for p in problems if "OneTrainer ignores it" not in p.message and p.key != "__version"
    ]
    kept_as_is = {
        p.key for p in value_problems if p.message.startswith("null is not allowed here; expected true")
    }
    assert {p.key for p in value_problems} - kept_as_is == printed


def test_migration_leaves_its_input_untouched() -> None:
    given = {"optimizer": "ADAMW", "optimizer_beta1": 0.8, "model_type": "STABLE_DIFFUSION_15"}
    before = copy.deepcopy(given)
    with pytest.raises(MigrationError):
        migrate_train_config(given)
    assert given == before


def test_a_nested_optimizer_without_version_is_refused_clearly() -> None:
    # Configs saved between 2024-02-04 and 02-06 had the nested optimizer but no __version.
    with pytest.raises(MigrationError) as raised:
        migrate_train_config({"optimizer": {"optimizer": "ADAMW"}})
    assert raised.value.key == "optimizer"
    assert "__version" in str(raised.value)


def test_current_version_is_not_migrated() -> None:
    given = {"__version": 11, "weight_dtype": "FLOAT_16"}
    assert migrate_train_config(given) == given


def test_inline_concepts_are_migrated_by_their_own_version() -> None:
    migrated = migrate_train_config({"__version": 11, "concepts": [{"__version": 0, "repeats": 2.0}]})
    assert migrated["concepts"] == [{"__version": 2, "balancing": 2.0}]
