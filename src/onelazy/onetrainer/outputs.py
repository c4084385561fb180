"""The names OneTrainer gives what it writes while it trains: the workspace's ``save``,
``backup``, ``tensorboard`` and ``samples`` folders, and the time-stamped name of each save, backup
and training sample, which holds the training position (global step, epoch, step in the epoch).
Everything that reads one of them by its name asks here, so OneTrainer's formats are spelled in
``onelazy.onetrainer`` only.

A save is ``<save_filename_prefix><YYYY-MM-DD_HH-MM-SS>-save-<step>-<epoch>-<epoch_step><ext>``
(a file, or a folder for the diffusers format); a backup is a folder
``<YYYY-MM-DD_HH-MM-SS>-backup-<step>-<epoch>-<epoch_step>``; a training sample is
``samples/<i> - <prompt>/<prefix><time>-training-sample-<step>-<epoch>-<epoch_step>.<ext>``; the
event files of one training start are in ``tensorboard/<prefix><time>/``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

#: The workspace's folder of intermediate saves.
SAVE_DIR = "save"
#: The workspace's folder of backups (what ``continue_last_backup`` resumes from).
BACKUP_DIR = "backup"
#: The workspace's folder of TensorBoard event folders, one per training start.
TENSORBOARD_DIR = "tensorboard"
#: The workspace's folder of training samples, one folder per sample prompt.
SAMPLES_DIR = "samples"
#: The samples folder OneTrainer's UI renders into by hand: not the training's own samples.
CUSTOM_SAMPLES_DIR = "custom"

_TIME = r"\d{4}-\d\d-\d\d_\d\d-\d\d-\d\d"
_POSITION = r"(?P<step>\d+)-(?P<epoch>\d+)-(?P<epoch_step>\d+)"
_SAVE_FILE = re.compile(_TIME + r"-save-" + _POSITION + r"\.safetensors")
_ANY_SAVE = re.compile(_TIME + r"-save-\d+-\d+-\d+(?:\.\w+)?")
_BACKUP = re.compile(_TIME + r"-backup-" + _POSITION)
_BACKUP_TAIL = re.compile(r"-backup-" + _POSITION + r"$")
_SAMPLE = re.compile(r".*-training-sample-" + _POSITION + r"\.\w+")
#: ``-save-`` or ``-backup-`` and the position at the end of a path OneTrainer printed.
_PRINTED = re.compile(r"-(?P<kind>save|backup)-" + _POSITION + r"(?:\.[^/\\]*)?$")


@dataclass(frozen=True)
class TrainPosition:
    """Where training stood when a file was written."""

    step: int
    epoch: int
    epoch_step: int


def _position(found: re.Match[str]) -> TrainPosition:
    return TrainPosition(int(found["step"]), int(found["epoch"]), int(found["epoch_step"]))


def save_position(name: str, prefix: str) -> TrainPosition | None:
    """The position of a ``.safetensors`` save of the run whose ``save_filename_prefix`` is ``prefix``
    (None for any other name, such as another run's save in a shared workspace)."""
    if not name.startswith(prefix):
        return None
    found = _SAVE_FILE.fullmatch(name[len(prefix) :])
    return _position(found) if found else None


def is_save(name: str, prefix: str) -> bool:
    """A save of that run in any format (a file, or a folder for diffusers)."""
    return name.startswith(prefix) and _ANY_SAVE.fullmatch(name[len(prefix) :]) is not None


def backup_position(name: str) -> TrainPosition | None:
    """The position in a backup folder's name (ending ``-backup-<step>-<epoch>-<epoch_step>``)."""
    found = _BACKUP_TAIL.search(name)
    return _position(found) if found else None


def is_backup(name: str) -> bool:
    """A backup folder's whole name, as OneTrainer makes it."""
    return _BACKUP.fullmatch(name) is not None


def sample_position(name: str, prefix: str = "") -> TrainPosition | None:
    """The position of a training sample's file (None for anything else, or another run's)."""
    if not name.startswith(prefix):
        return None
    found = _SAMPLE.fullmatch(name)
    return _position(found) if found else None


def printed_position(path_name: str) -> tuple[Literal["save", "backup"], TrainPosition] | None:
    """``("save" | "backup", position)`` from a save or backup path OneTrainer printed."""
    found = _PRINTED.search(path_name)
    if found is None:
        return None
    kind: Literal["save", "backup"] = "save" if found["kind"] == "save" else "backup"
    return kind, _position(found)
