"""One ``onelazy run`` decision on a finished project reads each file it needs once: every preset
file of the chain parsed once, the run's ``config.json`` read once (what the run folder and the
launch fingerprint need), the train config validated strictly once, each stage's check computed
once. Counted by wrapping the functions that do the work, so a second reading anywhere
(a stage check computed twice, a helper that reloads what the caller had) fails the test."""

from __future__ import annotations

import builtins
import io
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from onelazy import _yaml, presets, run_folder
from onelazy.cli import cli
from onelazy.onetrainer import reading
from onelazy.onetrainer.models import TrainConfig
from onelazy.pipeline import run_project
from tests.project.helpers import actions
from tests.project.test_run_stages import make_project


class Counts:
    """What one command read: YAML files parsed, files opened for reading, strict TrainConfig checks."""

    def __init__(self) -> None:
        self.parsed: Counter[Path] = Counter()
        self.opened: Counter[Path] = Counter()
        self.strict_train_validations = 0

    def restart(self, monkeypatch: pytest.MonkeyPatch) -> None:
        """Count from here, as a new command would: nothing read, no preset parsed yet."""
        self.__init__()  # type: ignore[misc]
        monkeypatch.setattr(presets, "_PARSED", {})
        monkeypatch.setattr(run_folder, "_READ", {})


@pytest.fixture
def counts(monkeypatch: pytest.MonkeyPatch) -> Iterator[Counts]:
    found = Counts()
    parse, validate, real_open = _yaml.parse, reading.validate_model, io.open

    def counting_parse(file: Path, text: str, error: Any) -> Any:
        found.parsed[Path(file).resolve()] += 1
        return parse(file, text, error)

    def counting_validate(cls: Any, data: Any, **options: Any) -> Any:
        if cls is TrainConfig and not options.get("lenient"):
            found.strict_train_validations += 1
        return validate(cls, data, **options)

    def counting_open(file: Any, mode: str = "r", *args: Any, **kwargs: Any) -> Any:
        if isinstance(file, (str, Path)) and "r" in mode and "+" not in mode:
            found.opened[Path(file).resolve()] += 1
        return real_open(file, mode, *args, **kwargs)

    monkeypatch.setattr(_yaml, "parse", counting_parse)
    monkeypatch.setattr(reading, "validate_model", counting_validate)
    monkeypatch.setattr(io, "open", counting_open)
    monkeypatch.setattr(builtins, "open", counting_open)
    yield found


def _finished(world: dict[str, Any]) -> Path:
    yaml_file = make_project(world)
    summary = run_project(yaml_file)
    assert summary.outcome == "finished", summary
    return yaml_file


def _preset_files(counts: Counts) -> dict[Path, int]:
    root = presets.presets_dir().resolve()
    return {path: n for path, n in counts.parsed.items() if path.is_relative_to(root)}


def test_a_run_on_a_finished_project_reads_each_file_once(
    world: dict[str, Any], counts: Counts, monkeypatch: pytest.MonkeyPatch
) -> None:
    yaml_file = _finished(world)
    counts.restart(monkeypatch)  # only the decision below is counted
    summary = run_project(yaml_file)
    assert set(actions(summary).values()) == {"skipped"}
    presets = _preset_files(counts)
    # lazy-sd15 sits on sd15-lora, which sits on OneTrainer's built-in: three files, once each
    assert len(presets) >= 2 and set(presets.values()) == {1}, presets
    assert counts.parsed[yaml_file.resolve()] == 1
    assert counts.strict_train_validations == 1
    config = (yaml_file.parent / "run" / "config.json").resolve()
    assert counts.opened[config] == 1, counts.opened
    # each stage's check once: the state, the manifest (generate), the cull report (cull)
    folder = yaml_file.parent.resolve()
    for name in (".onelazy/state.json", "dataset/manifest.jsonl", "dataset/cull-report.json"):
        assert counts.opened[folder / name] == 1, (name, counts.opened)


@pytest.mark.parametrize("command", ["run", "status"])
def test_each_command_parses_its_presets_once(
    world: dict[str, Any], counts: Counts, monkeypatch: pytest.MonkeyPatch, command: str
) -> None:
    yaml_file = _finished(world)
    counts.restart(monkeypatch)
    result = CliRunner().invoke(cli, [command, str(yaml_file)])
    assert result.exit_code == 0, result.output
    presets = _preset_files(counts)
    assert presets and set(presets.values()) == {1}, presets
    assert counts.strict_train_validations == 1
    assert counts.opened[(yaml_file.parent / ".onelazy" / "state.json").resolve()] == 1
    assert counts.opened[(yaml_file.parent / "run" / "config.json").resolve()] == 1, counts.opened


def test_run_status_and_stop_after_walk_one_table() -> None:
    from onelazy.cli.project import run_command
    from onelazy.pipeline import PIPELINE

    stop_after = next(param for param in run_command.params if param.name == "stop_after")
    assert list(stop_after.type.choices) == [stage.name for stage in PIPELINE]  # type: ignore[attr-defined]
