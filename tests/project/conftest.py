"""Fixtures of the project tests."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.project.standins import FolderComfy
from tests.training.standin import make_onetrainer


@pytest.fixture
def world(tmp_path: Path, onetrainer_facts: Path) -> Iterator[dict[str, Any]]:
    """A stand-in OneTrainer checkout, a ComfyUI stand-in whose LoRA list is a real folder, a base model."""
    onetrainer = make_onetrainer(tmp_path / "OneTrainer", onetrainer_facts)
    loras = tmp_path / "ComfyUI" / "models" / "loras"
    loras.mkdir(parents=True)
    model = tmp_path / "models" / "tiny-sd15"
    model.mkdir(parents=True)
    (model / "model_index.json").write_text("{}", encoding="utf-8")
    with FolderComfy(loras) as server:
        yield {"onetrainer": onetrainer, "loras": loras, "model": model, "server": server, "base": tmp_path}
