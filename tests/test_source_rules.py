"""Rules about the source itself that review asks for and a grep can check."""

from __future__ import annotations

import ast
import builtins
import warnings
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parent.parent / "src" / "onelazy"


def _modules() -> list[tuple[Path, ast.Module]]:
    return [(path, ast.parse(path.read_text(encoding="utf-8"))) for path in sorted(SRC.rglob("*.py"))]


def test_no_class_shadows_a_builtin() -> None:
    """A class named ``Warning`` hides Python's own in every module that imports it."""
    shadowing = [
        f"{path.relative_to(SRC)}: {node.name}"
        for path, tree in _modules()
        for node in ast.walk(tree)
        if isinstance(node, ast.ClassDef) and node.name in dir(builtins)
    ]
    assert shadowing == []


def test_the_training_warning_event_still_imports_under_its_first_name() -> None:
    from onelazy.training import TrainingWarning

    with pytest.warns(DeprecationWarning, match="TrainingWarning"):
        from onelazy.training import Warning as old
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        from onelazy.training.events import TrainerWarning
    assert old is TrainingWarning is TrainerWarning


def test_one_reader_of_key_equals_value() -> None:
    """``--set KEY=VALUE`` is split in one place, so every flag words its mistakes alike."""
    splitters = [
        f"{path.relative_to(SRC)}:{node.lineno}"
        for path, tree in _modules()
        for node in ast.walk(tree)
        if isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and node.func.attr in ("partition", "split")
        and [ast.unparse(arg) for arg in node.args[:1]] == ["'='"]
    ]
    assert splitters == ["onetrainer/dotted.py:" + splitters[0].rpartition(":")[2]], splitters


def test_onetrainers_save_and_backup_names_are_spelled_in_onetrainer_only() -> None:
    """How OneTrainer names a save, a backup or a training sample, and its workspace's folders
    for them and for its logs, is in ``onetrainer/outputs.py``; compare, pick, the evidence, the
    run folder and the launch output all ask it."""
    spelled = sorted(
        {
            str(path.relative_to(SRC))
            for path, tree in _modules()
            for node in ast.walk(tree)
            if isinstance(node, ast.Constant)
            and isinstance(node.value, str)
            and (
                (("-save-" in node.value or "-backup-" in node.value)
                and "\\d" in node.value)
                or "-training-sample-" in node.value
            )
        }
    )
    assert spelled == ["onetrainer/outputs.py"]
    # and no module joins a workspace folder's name onto a path by hand (``workspace / "samples"``)
    joined = sorted(
        f"{path.relative_to(SRC)}:{node.lineno}"
        for path, tree in _modules()
        for node in ast.walk(tree)
        if isinstance(node, ast.BinOp)
        and isinstance(node.op, ast.Div)
        and isinstance(node.right, ast.Constant)
        and node.right.value in ("save", "backup", "tensorboard", "samples")
    )
    assert joined == []
