"""Finding OneTrainer and reading the config version it expects, without importing it."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from onelazy.errors import OneTrainerNotFound, OneTrainerVersionMismatch
from onelazy.onetrainer.install import find_onetrainer, read_config_version


def test_found_by_path_with_its_venv_python_and_version(fake_onetrainer: Callable[..., Path]) -> None:
    root = fake_onetrainer()
    install = find_onetrainer(root)
    assert install.root == root.resolve()
    assert install.train_script == root.resolve() / "scripts" / "train.py"
    # the venv's python itself, not what it links to (TensorBoard is found next to it)
    assert install.python == root.resolve() / "venv" / "bin" / "python"
    assert install.config_version == 11
    install.check_config_version(11)


def test_found_through_the_environment(
    fake_onetrainer: Callable[..., Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    root = fake_onetrainer()
    monkeypatch.setenv("ONETRAINER_DIR", str(root))
    assert find_onetrainer().root == root.resolve()


def test_missing_says_how_to_set_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("ONETRAINER_DIR", raising=False)
    with pytest.raises(OneTrainerNotFound, match=r"--onetrainer DIR.*ONETRAINER_DIR"):
        find_onetrainer()


def test_folder_without_train_script(tmp_path: Path) -> None:
    with pytest.raises(OneTrainerNotFound, match=r"has no scripts/train\.py"):
        find_onetrainer(tmp_path)


def test_not_a_folder(tmp_path: Path) -> None:
    with pytest.raises(OneTrainerNotFound, match="is not a folder"):
        find_onetrainer(tmp_path / "nowhere")


def test_without_venv_asks_for_python(fake_onetrainer: Callable[..., Path], tmp_path: Path) -> None:
    root = fake_onetrainer(with_venv=False)
    with pytest.raises(OneTrainerNotFound, match="--python"):
        find_onetrainer(root)
    interpreter = tmp_path / "python3"
    interpreter.write_text("")
    interpreter.chmod(0o755)
    assert find_onetrainer(root, python=interpreter).python == interpreter


def test_a_relative_python_is_made_absolute_before_train_py_runs_in_onetrainers_folder(
    fake_onetrainer: Callable[..., Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = fake_onetrainer(with_venv=False)
    interpreter = tmp_path / "env" / "bin" / "python"
    interpreter.parent.mkdir(parents=True)
    interpreter.write_text("")
    interpreter.chmod(0o755)
    monkeypatch.chdir(tmp_path)
    found = find_onetrainer(root, python="env/bin/python").python
    assert found.is_absolute() and found == interpreter


def test_a_python_that_cannot_run_is_named_before_anything_starts(
    fake_onetrainer: Callable[..., Path], tmp_path: Path
) -> None:
    root = fake_onetrainer(with_venv=False)
    text_file = tmp_path / "notes.txt"
    text_file.write_text("")
    text_file.chmod(0o644)
    with pytest.raises(OneTrainerNotFound, match=r"notes\.txt: is not executable"):
        find_onetrainer(root, python=text_file)
    with pytest.raises(OneTrainerNotFound, match="is a folder"):
        find_onetrainer(root, python=tmp_path)


def test_newer_onetrainer_is_a_warning_naming_both_versions(fake_onetrainer: Callable[..., Path]) -> None:
    # OneTrainer migrates an older config itself when it loads it
    install = find_onetrainer(fake_onetrainer(config_version=12))
    assert install.config_version == 12
    warning = install.check_config_version(11)
    assert warning is not None
    assert "expects TrainConfig version 12, newer than version 11 that onelazy writes" in warning
    assert find_onetrainer(fake_onetrainer(config_version=11)).check_config_version(11) is None


def test_older_onetrainer_is_refused_naming_both_versions(fake_onetrainer: Callable[..., Path]) -> None:
    install = find_onetrainer(fake_onetrainer(config_version=10))
    with pytest.raises(
        OneTrainerVersionMismatch, match=r"expects TrainConfig version 10, older than version 11.*update"
    ):
        install.check_config_version(11)


def test_version_of_the_train_config_class_not_of_other_classes(tmp_path: Path) -> None:
    source = tmp_path / "TrainConfig.py"
    # TrainOptimizerConfig comes first in OneTrainer's file and declares its own version
    source.write_text(
        "class TrainOptimizerConfig(BaseConfig):\n"
        "    def __init__(self, data):\n"
        "        super().__init__(data, config_version=1)\n"
        "class TrainConfig(BaseConfig):\n"
        "    def __init__(self, data):\n"
        "        super().__init__(data, config_version=12, config_migrations={})\n"
    )
    assert read_config_version(source) == 12


def test_unversioned_and_unreadable_sources(tmp_path: Path) -> None:
    source = tmp_path / "TrainConfig.py"
    source.write_text(
        "class TrainConfig(BaseConfig):\n    def __init__(self, data):\n        super().__init__(data)\n"
    )
    assert read_config_version(source) == 0
    source.write_text("class TrainConfig(:\n")
    assert read_config_version(source) is None
    assert read_config_version(tmp_path / "missing.py") is None
