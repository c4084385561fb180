"""A corrupt ``.onelazy/state.json`` is said, and kept aside, instead of silently counting as no state."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import pytest

from onelazy.pipeline import project_status
from onelazy.project import init_project
from tests.project.helpers import fill_in


@pytest.fixture
def project_file(world: dict[str, Any]) -> Path:
    """A filled-in onelazy.yaml with an empty ``.onelazy`` folder beside it."""
    result = init_project(
        world["base"] / "faery", name="faery", backend="comfyui", url=world["server"].url,
        onetrainer=str(world["onetrainer"]),
    )  # fmt: skip
    fill_in(result.path, world)
    (result.path.parent / ".onelazy").mkdir()
    return result.path


@pytest.mark.parametrize("content", ['{"version": 1, "stages": {"generate": ', "[1, 2]", "\xff\xfe"])
def test_a_corrupt_state_file_is_named_once_and_kept_aside(
    project_file: Path, caplog: pytest.LogCaptureFixture, content: str
) -> None:
    state = project_file.parent / ".onelazy" / "state.json"
    state.write_bytes(content.encode("latin-1"))

    with caplog.at_level(logging.WARNING, logger="onelazy"):
        statuses = {s.stage: s for s in project_status(project_file)}
        project_status(project_file)  # the second look finds no state file and says nothing more

    assert statuses["generate"].state == "pending"
    warnings = [record.getMessage() for record in caplog.records if record.levelno == logging.WARNING]
    assert len(warnings) == 1, warnings
    assert warnings[0].startswith(f"Warning: {state}: ")
    assert "moved it to state.json.corrupt" in warnings[0]
    assert not state.exists()
    assert (state.parent / "state.json.corrupt").read_bytes() == content.encode("latin-1")


def test_an_intact_state_file_says_nothing(project_file: Path, caplog: pytest.LogCaptureFixture) -> None:
    state = project_file.parent / ".onelazy" / "state.json"
    state.write_text('{"version": 1, "stages": {}}', encoding="utf-8")
    with caplog.at_level(logging.WARNING, logger="onelazy"):
        project_status(project_file)
    assert not caplog.records
    assert state.is_file() and not (state.parent / "state.json.corrupt").exists()
