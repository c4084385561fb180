"""The docs that are checked against the code: docs/cli.md is the commands' help, docs/python.md runs."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from onelazy.cli import COMMANDS
from onelazy.cli.docs import docs_path, main, render


def test_cli_reference_matches_the_commands_help(repo_root: Path) -> None:
    assert docs_path() == repo_root / "docs" / "cli.md"
    committed = docs_path().read_text(encoding="utf-8")
    assert committed == render(), "docs/cli.md is out of date; run: python -m onelazy.cli.docs"
    for name in COMMANDS:
        assert f"## `onelazy {name}`" in committed


def test_check_mode_fails_on_drift(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    stale = tmp_path / "cli.md"
    stale.write_text("# old\n", encoding="utf-8")
    monkeypatch.setattr("onelazy.cli.docs.docs_path", lambda: stale)
    assert main(["--check"]) == 1
    assert main([]) == 0 and main(["--check"]) == 0
    assert stale.read_text(encoding="utf-8") == render()


def python_blocks(text: str) -> list[str]:
    return re.findall(r"```python\n(.*?)```", text, flags=re.DOTALL)


def test_python_guide_examples_run(
    world: dict[str, Any], repo_root: Path, monkeypatch: pytest.MonkeyPatch, tiny_image_model: Path
) -> None:
    """Every ``python`` block of docs/python.md, in order, in a filled-in project folder; the image
    model it names is the tiny test model, in the Hugging Face cache as if downloaded."""
    from onelazy.comparison.image_score import SUGGESTED_MODEL
    from onelazy.project import init_project
    from tests.project.helpers import fill_in, put_in_hub_cache

    put_in_hub_cache(tiny_image_model, SUGGESTED_MODEL)

    project = world["base"] / "faery"
    result = init_project(
        project, name="faery", backend="comfyui", url=world["server"].url, onetrainer=str(world["onetrainer"])
    )
    fill_in(result.path, world)
    monkeypatch.chdir(project)
    blocks = python_blocks((repo_root / "docs" / "python.md").read_text(encoding="utf-8"))
    assert len(blocks) == 4
    for block in blocks:
        exec(compile(block, "docs/python.md", "exec"), {"__name__": "docs_example"})
    output = project / "faery.safetensors"
    last_save = sorted((project / "run" / "workspace" / "save").glob("*-save-19-*.safetensors"))[-1]
    assert output.read_bytes() == last_save.read_bytes()
    assert (project / "run" / "compare" / "grid.png").is_file()
    cells = json.loads((project / "run" / "compare" / "cells.json").read_text(encoding="utf-8"))
    assert cells["image_score"]["model"] == SUGGESTED_MODEL and cells["image_score"]["references"] > 0
    assert (project / ".onelazy" / "state.json").is_file()
