"""Fixtures for the launch tests: a fake OneTrainer tree and a config pointing into tmp_path."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.training.standin import make_config, make_onetrainer


@pytest.fixture
def fake_onetrainer(tmp_path: Path, onetrainer_facts: Path) -> Callable[..., Path]:
    """Factory: a fake OneTrainer checkout under tmp_path (keyword options of make_onetrainer)."""
    count = 0

    def build(**options: Any) -> Path:
        nonlocal count
        count += 1
        return make_onetrainer(tmp_path / f"OneTrainer{count}", onetrainer_facts, **options)

    return build


@pytest.fixture
def train_config(tmp_path: Path, onetrainer_facts: Path) -> Callable[..., Path]:
    """Factory: a recorded run's config (``recorded=``) with paths under tmp_path and overrides."""

    def build(**options: Any) -> Path:
        return make_config(tmp_path / "project", onetrainer_facts, **options)

    return build
