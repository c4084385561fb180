"""Finding a OneTrainer install and the config version it expects, without importing it.

OneTrainer lives in its own virtual environment (torch, CUDA); onelazy never imports it. What
onelazy needs to know is read from the files: ``scripts/train.py`` must exist, its Python is the
venv's interpreter, and the TrainConfig version the install expects is the ``config_version``
argument that ``TrainConfig.__init__`` passes to ``BaseConfig`` in
``modules/util/config/TrainConfig.py``. Reading that with :mod:`ast` lets onelazy say "this
OneTrainer expects version 12, onelazy writes 11" before anything runs.
"""

from __future__ import annotations

import ast
import os
import sys
from dataclasses import dataclass
from pathlib import Path

from onelazy.errors import OneTrainerNotFound, OneTrainerVersionMismatch

ENV_VAR = "ONETRAINER_DIR"
TRAIN_SCRIPT = Path("scripts") / "train.py"
TRAIN_CONFIG_SOURCE = Path("modules") / "util" / "config" / "TrainConfig.py"
_VENV_PYTHONS = (Path("venv") / "bin" / "python", Path("venv") / "Scripts" / "python.exe")


@dataclass(frozen=True)
class OneTrainerInstall:
    """A OneTrainer checkout onelazy can run: its root, train script, Python and config version."""

    root: Path
    train_script: Path
    python: Path
    # The TrainConfig ``__version`` this install writes and expects; None if its source could not be read.
    config_version: int | None
    config_version_source: Path

    def check_config_version(self, expected: int) -> str | None:
        """Whether this install can train a config of version ``expected``: None if it expects that
        version, a warning if it is newer (OneTrainer migrates an older config itself when it loads
        it), :class:`OneTrainerVersionMismatch` if it is older or its version cannot be read (it
        would not know the config's keys)."""
        if self.config_version is None:
            raise OneTrainerVersionMismatch(
                f"{self.config_version_source}: cannot read the TrainConfig config_version of the OneTrainer "
                f"at {self.root}; onelazy writes version {expected}"
            )
        if self.config_version < expected:
            raise OneTrainerVersionMismatch(
                f"the OneTrainer at {self.root} expects TrainConfig version {self.config_version}, "
                f"older than version {expected} that onelazy writes: it would drop or misread what "
                "changed since; update OneTrainer (git pull in its folder)"
            )
        if self.config_version > expected:
            return (
                f"the OneTrainer at {self.root} expects TrainConfig version {self.config_version}, "
                f"newer than version {expected} that onelazy writes; OneTrainer migrates the config to "
                f"version {self.config_version} when it loads it, but onelazy checks it only as version "
                f"{expected}"
            )
        return None


def find_onetrainer(
    path: str | Path | None = None,
    *,
    python: str | Path | None = None,
    given_as: str = "--onetrainer",
    how_to_give: str = "pass --onetrainer DIR (onetrainer= in Python)",
    python_given_as: str = "--python",
) -> OneTrainerInstall:
    """Locate OneTrainer: ``path``, else ``$ONETRAINER_DIR``; its Python: ``python``, else its venv.

    Raises :class:`OneTrainerNotFound` with a message saying how to point onelazy at it;
    ``given_as`` says where ``path`` came from (``onelazy.yaml: onetrainer``), ``how_to_give`` how
    the caller's user gives one (``run`` has no ``--onetrainer``: its file's key does that);
    ``python_given_as`` where ``python`` came from.
    """
    if path is not None and str(path) != "":
        root = Path(path).expanduser()
        origin = given_as
    else:
        env_value = os.environ.get(ENV_VAR, "")
        if not env_value:
            raise OneTrainerNotFound(
                f"no OneTrainer given: {how_to_give} or set {ENV_VAR} "
                "to the folder of your OneTrainer checkout (the one with scripts/train.py)"
            )
        root = Path(env_value).expanduser()
        origin = ENV_VAR
    if not root.is_dir():
        raise OneTrainerNotFound(
            f"{root} (from {origin}) is not a folder; point it at your OneTrainer checkout"
        )
    root = root.resolve()
    train_script = root / TRAIN_SCRIPT
    if not train_script.is_file():
        raise OneTrainerNotFound(
            f"{root} (from {origin}) has no {TRAIN_SCRIPT.as_posix()}; is it a OneTrainer checkout?"
        )
    interpreter = _find_python(root, python, python_given_as)
    source = root / TRAIN_CONFIG_SOURCE
    return OneTrainerInstall(
        root=root,
        train_script=train_script,
        python=interpreter,
        config_version=read_config_version(source),
        config_version_source=source,
    )


def _find_python(root: Path, python: str | Path | None, given_as: str) -> Path:
    if python is not None and str(python) != "":
        # absolute, not resolved: train.py runs with OneTrainer's folder as its working directory,
        # and a venv's python must stay the link in its bin folder (see below)
        candidate = Path(python).expanduser().absolute()
        if candidate.is_dir():
            raise OneTrainerNotFound(f"{given_as} {candidate}: is a folder; give the interpreter file")
        if not candidate.is_file():
            raise OneTrainerNotFound(f"{given_as} {candidate}: no such file")
        if not os.access(candidate, os.X_OK):
            raise OneTrainerNotFound(f"{given_as} {candidate}: is not executable; give the interpreter")
        return candidate
    order = _VENV_PYTHONS if sys.platform != "win32" else tuple(reversed(_VENV_PYTHONS))
    for relative in order:
        # not resolved: OneTrainer starts TensorBoard from the folder of sys.executable (the venv's bin)
        candidate = root / relative
        if candidate.is_file():
            return candidate
    names = " or ".join(str(p.as_posix()) for p in _VENV_PYTHONS)
    raise OneTrainerNotFound(
        f"{root} has no {names}: run OneTrainer's install script there, or give {given_as} "
        "the interpreter of its environment"
    )


def read_config_version(source: Path) -> int | None:
    """The ``config_version=`` that class ``TrainConfig`` passes in ``source``; None if unreadable.

    A class without the keyword uses BaseConfig's default, version 0 (OneTrainer before versioning).
    """
    try:
        tree = ast.parse(source.read_text(encoding="utf-8"), filename=str(source))
    except (OSError, UnicodeDecodeError, SyntaxError, ValueError):
        return None
    for node in tree.body:
        if isinstance(node, ast.ClassDef) and node.name == "TrainConfig":
            return _config_version_in_class(node)
    return None


def _config_version_in_class(cls: ast.ClassDef) -> int | None:
    for item in cls.body:
        if not (isinstance(item, ast.FunctionDef) and item.name == "__init__"):
            continue
        for sub in ast.walk(item):
            if not isinstance(sub, ast.Call):
                continue
            for keyword in sub.keywords:
                if keyword.arg == "config_version":
                    value = keyword.value
                    if isinstance(value, ast.Constant) and type(value.value) is int:
                        return value.value
                    return None
        return 0
    return None
