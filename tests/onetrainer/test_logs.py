"""The configs of real ``scripts/train.py`` runs: what OneTrainer printed is what onelazy reports."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from onelazy.onetrainer import check_train_config, read_train_config_lenient
from tests.onetrainer.facts import fact_files

RUN_CONFIGS = fact_files("logs/*.config.json")


def test_the_logs_are_there(onetrainer_facts: Path) -> None:
    assert len(list(onetrainer_facts.glob("logs/*.config.json"))) >= 4


@pytest.mark.parametrize("path", RUN_CONFIGS, ids=lambda p: p.name)
def test_could_not_set_lines_are_the_reported_values(path: Path) -> None:
    stdout = path.with_name(path.name.replace(".config.json", ".stdout")).read_text(encoding="utf-8")
    printed = sorted(re.findall(r"^Could not set (\S+) as ", stdout, flags=re.MULTILINE))
    config, problems = read_train_config_lenient(path)
    # OneTrainer names only the last part of the key; onelazy the whole dotted path.
    assert sorted(problem.key.split(".")[-1] for problem in problems) == printed
    # And the layer preset that train.py ignored ("83 of 83 layers selected") is flagged.
    if "Selected layers:" in stdout and config.layer_filter_preset != "full" and not config.layer_filter:
        assert "layer_filter_preset" in [p.key for p in check_train_config(config)]
