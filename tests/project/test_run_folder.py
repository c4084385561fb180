"""The run folder has one owner (``onelazy.run_folder``): every command parses the run's config.json
once, and the stages find the run's files where that module says they are."""

from __future__ import annotations

import io
import os
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from onelazy import run_folder
from onelazy.cli import cli
from tests.project.test_run_counts import _finished


@pytest.fixture
def config_parses(monkeypatch: pytest.MonkeyPatch) -> Counter[Path]:
    """Reads per file, text or bytes: the run folder parses the bytes the fingerprint hashes."""
    found: Counter[Path] = Counter()
    real_open = io.open

    def counting_open(file: Any, mode: str = "r", *args: Any, **kwargs: Any) -> Any:
        if isinstance(file, (str, os.PathLike)) and "r" in mode and "+" not in mode:
            found[Path(file).resolve()] += 1
        return real_open(file, mode, *args, **kwargs)

    monkeypatch.setattr(io, "open", counting_open)
    return found


@pytest.mark.parametrize(
    "command",
    [["run"], ["status"], ["compare"], ["compare", "--pick", "final"], ["compare", "--pick", "best"]],
)
def test_each_command_parses_config_json_once(
    world: dict[str, Any],
    config_parses: Counter[Path],
    monkeypatch: pytest.MonkeyPatch,
    command: list[str],
) -> None:
    """run and status asked for it in four places, compare in two, each reading the file again."""
    yaml_file = _finished(world)
    run = yaml_file.parent / "run"
    config_parses.clear()
    monkeypatch.setattr(run_folder, "_READ", {})  # a new command starts with nothing read
    target = yaml_file if command[0] in ("run", "status") else run
    result = CliRunner().invoke(cli, [command[0], str(target), *command[1:]])
    assert result.exit_code in (0, 1), result.output  # --pick best may find nothing to pick
    assert config_parses[(run / "config.json").resolve()] == 1, command


def test_a_rewritten_config_is_read_again(tmp_path: Path) -> None:
    run = tmp_path / "run"
    run.mkdir()
    (run / "config.json").write_text('{"__version": 11, "workspace_dir": "ws-a"}', encoding="utf-8")
    first = run_folder.read_run(run)
    assert run_folder.read_run(run) is first  # the same file: not read again
    from onelazy._files import atomic_write_text

    atomic_write_text(run / "config.json", '{"__version": 11, "workspace_dir": "ws-b"}')
    assert run_folder.read_run(run).workspace == run.resolve() / "ws-b"


def test_the_layout_is_the_one_build_config_writes_and_the_stages_read(tmp_path: Path) -> None:
    folder = run_folder.RunFolder(tmp_path / "run")
    assert [p.name for p in (folder.config, folder.concepts, folder.samples, folder.secrets)] == [
        "config.json",
        "concepts.json",
        "samples.json",
        "secrets.json",
    ]
    assert folder.grid == tmp_path / "run" / "compare" / "grid.png"
    assert folder.picked.parent == folder.compare
